"""The console screens of participation, through the log-in form and CSRF-protected
forms: requests by due date, masked or full by role, the clock's steps, the annual
report table and CSV; a consultation's comments moderated, decided and reported."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from aiohttp.test_utils import TestClient

from bot.participation.models import Comment, Consultation
from tests.participation.helpers import ID_NUMBER, say, settings_for
from tests.web.console_helpers import RESIDENT, bearer, log_in, staff_client

HOSTILE = "<script>alert(1)</script>"


async def _register(client: TestClient, csrf: str, received: str) -> str:
    form = {"csrf": csrf, "received_on": received, "type": "公民", "name": HOSTILE, "id_type": "居民身份证",
            "id_number": ID_NUMBER, "phone": "13812345678", "description": f"{HOSTILE} 申请公开某文件",
            "delivery": "邮寄", "address": "城关镇"}  # fmt: skip
    resp = await client.post("/admin/disclosure", data=form, allow_redirects=False)
    assert resp.status == 303, await resp.text()
    return resp.headers["Location"].split("/admin/disclosure/")[1].split("?")[0]


async def test_disclosure_screens(db_url: str, fake_wechat: Any) -> None:
    settings = settings_for(db_url, fake_wechat.url)
    today = dt.datetime.now(settings.server.tz).date()
    async with staff_client(settings) as client:
        csrf = await log_in(client, "tok-editor-7f3a9c2e5b8d1f4a")
        late = await _register(client, csrf, "2026-02-06")
        fresh = await _register(client, csrf, today.isoformat())
        dashboard = await (await client.get("/admin/")).text()
        assert (
            'id="count-requests-late">1<' in dashboard
            and 'id="count-requests-soon">0<' in dashboard
        )
        page = await (await client.get("/admin/disclosure")).text()
        assert 'id="count-late">1<' in page and HOSTILE not in page and "&lt;script&gt;" in page
        assert page.index(late) > page.index('id="group-late"') and page.index(fresh) > page.index(
            'id="group-open"'
        )
        detail = await (await client.get(f"/admin/disclosure/{fresh}")).text()
        assert ID_NUMBER in detail and HOSTILE not in detail  # handling staff see it, escaped
        resp = await client.post(f"/admin/disclosure/{fresh}/reply", allow_redirects=False,
                                 data={"csrf": csrf, "outcome": "无法提供", "reason": "没有现成信息需要另行制作", "text": "答复"})  # fmt: skip
        assert resp.status == 303
        resp = await client.post(
            f"/admin/disclosure/{late}/supplement", data={"csrf": csrf, "what": "年份"}
        )
        assert resp.status == 422 and "7 个工作日" in await resp.text()
        forged = await client.post(
            f"/admin/disclosure/{late}/reply",
            data={"csrf": "x", "outcome": "予以公开", "text": "x"},
        )
        assert forged.status == 403

        report = await (await client.get(f"/admin/disclosure/report?year={today.year}")).text()
        assert "没有现成信息需要另行制作" in report and "结转下年度继续办理" in report
        resp = await client.get(f"/admin/disclosure/report.csv?year={today.year}")
        rows = list(csv.reader(io.StringIO((await resp.text()).lstrip("\ufeff"))))
        assert rows[0] == [
            "项目",
            "自然人",
            "商业企业",
            "科研机构",
            "社会公益组织",
            "法律服务机构",
            "其他",
            "总计",
        ]
        row = next(r for r in rows if r and r[0] == "2.没有现成信息需要另行制作")
        assert row[1] == "1" and row[-1] == "1"

    async with staff_client(settings) as client:
        await log_in(client, "tok-publisher-7f3a9c2e5b8d1f4a")
        detail = await (await client.get(f"/admin/disclosure/{fresh}")).text()
        assert ID_NUMBER not in detail and "1101**********002X" in detail and "已脱敏" in detail


async def test_consultation_screens(db_url: str, fake_wechat: Any) -> None:
    settings = settings_for(db_url, fake_wechat.url)
    today = dt.datetime.now(settings.server.tz).date()
    async with staff_client(settings) as client:
        csrf = await log_in(client, "tok-editor-7f3a9c2e5b8d1f4a")
        form = {"csrf": csrf, "id": "bus", "title": "公交方案", "issuer": "交通运输局", "kind": "重大行政决策",
                "opens_on": today.isoformat(), "closes_on": (today + dt.timedelta(days=10)).isoformat(),
                "body": "## 一、线路\n\n新增快线。"}  # fmt: skip
        resp = await client.post("/admin/consultations", data=form)
        assert resp.status == 422 and "不少于 30 日" in await resp.text()
        form["shortened_reason"] = "汛期前须完成"
        resp = await client.post("/admin/consultations", data=form, allow_redirects=False)
        assert resp.status == 303
        reply = await say(client, f"意见 bus 一、线路 {HOSTILE}", RESIDENT)
        assert "编号" in reply and "（一、线路）" in reply  # a section named by its heading
        comment = await Comment.get(consultation_id="bus")
        assert comment.section == "一、线路"
        page = await (await client.get("/admin/consultations/bus")).text()
        assert HOSTILE not in page and "&lt;script&gt;" in page and "汛期前须完成" in page
        resp = await client.post(f"/admin/consultations/bus/comments/{comment.id}/decide",
                                 data={"csrf": csrf, "decision": "未采纳", "reason": "与方案无关"}, allow_redirects=False)  # fmt: skip
        assert resp.status == 303
        await Consultation.filter(id="bus").update(closes_on=today - dt.timedelta(days=1))
        resp = await client.post("/admin/consultations/bus/report", data={"csrf": csrf, "text": ""})
        assert resp.status == 403  # an editor may not publish the report
    async with staff_client(settings) as client:
        csrf = await log_in(client, "tok-publisher-7f3a9c2e5b8d1f4a")
        resp = await client.post("/admin/consultations/bus/report", data={"csrf": csrf, "text": "已逐条研究"},
                                 allow_redirects=False)  # fmt: skip
        assert resp.status == 303
        public = await (await client.get("/consultations/bus")).text()
        assert "意见采纳情况" in public and "与方案无关" in public and HOSTILE not in public
        api = await (
            await client.get(
                "/api/v1/admin/consultations/bus/comments",
                headers=bearer("tok-publisher-7f3a9c2e5b8d1f4a"),
            )
        ).json()
        assert api["items"][0]["decision"] == "未采纳"
