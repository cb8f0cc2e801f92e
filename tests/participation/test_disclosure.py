"""依申请公开 end to end over real HTTP, both databases: the form's route, staff
registration, the clock's steps, chat look-ups only for the applicant, personal
data sealed and masked, the reply delivered once through the outbox, the annual report."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from tortoise import connections

from bot.catalog.deadlines import stored_calendar
from bot.participation import outbox
from bot.participation.clock import answer_due
from bot.participation.models import DisclosureRequest, Outbox, OutboxState
from bot.services import open_services
from tests.participation.helpers import ID_NUMBER, PHONE, application, say, settings_for
from tests.web.console_helpers import RESIDENT, bearer, staff_client

ADMIN = "/api/v1/admin/disclosure-requests"


async def _dump_everything() -> str:
    """Every row of every table, as text: personal data must appear nowhere in clear."""
    conn = connections.get("default")
    out = []
    for table in ("disclosure_request", "audit_entry", "participation_outbox"):
        _, rows = await conn.execute_query(f"SELECT * FROM {table}")
        out.extend(str(dict(r)) for r in rows)
    return "\n".join(out)


async def test_request_taken_end_to_end(db_url: str, fake_wechat: Any) -> None:
    settings = settings_for(db_url, fake_wechat.url)
    async with staff_client(settings) as client:
        # The public route: a WeChat reply needs WeChat's word for who applies.
        refused = await client.post(
            "/api/v1/disclosure-requests", json=application(delivery="微信")
        )
        assert refused.status == 422
        # An openid nobody vouched for is kept, but the chat will not answer it and no reply
        # goes to it: nobody can point another resident's WeChat at a request.
        claimed = await client.post(
            "/api/v1/disclosure-requests", json=application(delivery="微信", openid=RESIDENT)
        )
        assert claimed.status == 201
        unverified = (await claimed.json())["number"]
        assert "没有查到" in await say(client, f"查询申请 {unverified}", RESIDENT)
        bad_id = await client.post("/api/v1/disclosure-requests",
                                   json=application(applicant={**application()["applicant"], "id_number": "11010519491231"}))  # fmt: skip
        assert bad_id.status == 422 and "身份证" in (await bad_id.json())["error"]["message"]
        resp = await client.post("/api/v1/disclosure-requests", json=application())
        assert resp.status == 201, await resp.text()
        online = await resp.json()
        today = dt.datetime.now(settings.server.tz).date()
        assert online["received_on"] == today.isoformat()
        assert online["due_on"] == answer_due(await stored_calendar(), today).day.isoformat()
        assert online["state"] == "received" and online["number"].startswith(f"YSQ{today.year}-")

        # Staff register a letter received on Friday 6 February 2026, before the Spring Festival.
        body = application(delivery="微信", openid=RESIDENT, received_on="2026-02-06")
        assert (
            await client.post(ADMIN, json=body, headers=bearer("tok-publisher-7f3a9c2e5b8d1f4a"))
        ).status == 403
        resp = await client.post(ADMIN, json=body, headers=bearer("tok-editor-7f3a9c2e5b8d1f4a"))
        assert resp.status == 201, await resp.text()
        letter = await resp.json()
        number = letter["number"]
        assert (letter["received_on"], letter["due_on"]) == ("2026-02-06", "2026-03-12")

        # Sealed at rest, masked for other roles, open to handling staff.
        dump = await _dump_everything()
        assert (
            ID_NUMBER not in dump
            and PHONE not in dump
            and "张三" not in dump
            and "解放路" not in dump
        )
        masked = await (
            await client.get(f"{ADMIN}/{number}", headers=bearer("tok-publisher-7f3a9c2e5b8d1f4a"))
        ).json()
        assert masked["applicant"]["id_number"] == "1101**********002X"
        assert masked["applicant"]["phone"] == "138****5678" and masked["openid"] is None
        full = await (
            await client.get(f"{ADMIN}/{number}", headers=bearer("tok-editor-7f3a9c2e5b8d1f4a"))
        ).json()
        assert (full["applicant"]["id_number"], full["applicant"]["name"]) == (ID_NUMBER, "张三")

        # Chat: the applicant's WeChat, or anyone with the phone's last four digits.
        mine = await say(client, f"查询申请 {number}", RESIDENT)
        assert number in mine and "2026-03-12" in mine and "办理中" in mine
        stranger = await say(client, f"查询申请 {number}", "o-fake-000002")
        unknown = await say(client, "查询申请 YSQ2026-999999", "o-fake-000002")
        wrong = await say(client, f"查询申请 {number} 0000", "o-fake-000002")
        assert (
            stranger == unknown == wrong
            and number not in stranger
            and "2026" not in stranger.split("如")[0]
        )
        assert "2026-03-12" in await say(client, f"查询申请 {number.lower()} 5678", "o-fake-000002")
        assert "/disclosure/apply" in await say(client, "申请公开", "o-fake-000002")

        # Extension: once, approver and reason, 20 working days more.
        step = f"{ADMIN}/{number}/extend"
        assert (
            await client.post(
                step, json={"reason": "需调取档案"}, headers=bearer("tok-editor-7f3a9c2e5b8d1f4a")
            )
        ).status == 422
        resp = await client.post(step, json={"reason": "需调取 2025 年档案", "approver": "李局长"},
                                 headers=bearer("tok-editor-7f3a9c2e5b8d1f4a"))  # fmt: skip
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["due_on"] == "2026-04-10"
        again = await client.post(
            step,
            json={"reason": "再延", "approver": "李局长"},
            headers=bearer("tok-editor-7f3a9c2e5b8d1f4a"),
        )
        assert again.status == 409
        # 补正 more than 7 working days after receipt is refused.
        late = await client.post(f"{ADMIN}/{number}/supplement", json={"what": "请说明年份"},
                                 headers=bearer("tok-editor-7f3a9c2e5b8d1f4a"))  # fmt: skip
        assert late.status == 422 and "7 个工作日" in (await late.json())["error"]["message"]

        # Reply with the annual report's categories; the message waits in the outbox.
        step = f"{ADMIN}/{number}/reply"
        no_reason = await client.post(
            step,
            json={"outcome": "不予公开", "text": "…"},
            headers=bearer("tok-editor-7f3a9c2e5b8d1f4a"),
        )
        assert (
            no_reason.status == 422
            and "属于国家秘密" in (await no_reason.json())["error"]["message"]
        )
        resp = await client.post(step, json={"outcome": "部分公开", "text": "<script>alert(1)</script> 名单见附件",
                                             "attachments": [{"name": "名单.pdf", "url": "https://gov.example/a.pdf"}]},
                                 headers=bearer("tok-reviewer-7f3a9c2e5b8d1f4a"))  # fmt: skip
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["state"] == "answered"
        assert (
            await client.post(
                step,
                json={"outcome": "予以公开", "text": "x"},
                headers=bearer("tok-editor-7f3a9c2e5b8d1f4a"),
            )
        ).status == 409
        assert "已答复" in await say(client, f"查询申请 {number}", RESIDENT)
        resp = await client.post(f"{ADMIN}/{unverified}/reply", json={"outcome": "予以公开", "text": "见附件"},
                                 headers=bearer("tok-editor-7f3a9c2e5b8d1f4a"))  # fmt: skip
        assert resp.status == 200

    # Nobody delivered it yet (role web has no worker): the row is there, pending.
    async with open_services(settings) as services:
        rows = await Outbox.filter(object_id=number).order_by("id")
        assert [r.kind for r in rows] == ["disclosure.extend", "disclosure.reply"]
        assert await Outbox.filter(object_id=unverified).count() == 0
        fake_wechat.mark_active(RESIDENT)
        assert await outbox.deliver_pending(services) == 2
        assert await outbox.deliver_pending(services) == 0
        sent = [m["payload"]["text"]["content"] for m in fake_wechat.messages(RESIDENT)]
        assert (
            len(sent) == 2
            and "延长 20 个工作日" in sent[0]
            and "部分公开" in sent[1]
            and "名单.pdf" in sent[1]
        )
        # Audit: every step, nothing personal.
        audit = await _dump_everything()
        assert ID_NUMBER not in audit and PHONE not in audit


async def test_reply_recorded_before_a_crash_is_delivered_once_after_restart(
    db_url: str, fake_wechat: Any
) -> None:
    settings = settings_for(db_url, fake_wechat.url)
    fake_wechat.mark_active(RESIDENT)
    async with staff_client(settings) as client:
        body = application(
            delivery="微信", openid=RESIDENT, received_on=dt.date.today().isoformat()
        )
        number = (
            await (
                await client.post(ADMIN, json=body, headers=bearer("tok-editor-7f3a9c2e5b8d1f4a"))
            ).json()
        )["number"]
        resp = await client.post(f"{ADMIN}/{number}/reply", json={"outcome": "无法提供", "reason": "本机关不掌握相关政府信息",
                                                                  "text": "建议向县自然资源局申请"}, headers=bearer("tok-editor-7f3a9c2e5b8d1f4a"))  # fmt: skip
        assert resp.status == 200
    # A worker claimed the row and died before sending: its lease is left behind.
    row = await _claimed_by_a_dead_worker(settings)
    async with open_services(settings) as services:
        assert await outbox.deliver_pending(services) == 0  # the lease still holds
        await Outbox.filter(id=row).update(
            claimed_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        )
        # Two workers after the restart race for it: one message.
        results = await asyncio.gather(
            outbox.deliver_pending(services), outbox.deliver_pending(services)
        )
        assert sum(results) == 1
        assert (await Outbox.get(id=row)).state == OutboxState.sent
    messages = fake_wechat.messages(RESIDENT)
    assert (
        len(messages) == 1
        and "本机关不掌握相关政府信息" in messages[0]["payload"]["text"]["content"]
    )


async def _claimed_by_a_dead_worker(settings: Any) -> int:
    async with open_services(settings):
        claimed = await outbox.claim()
        assert len(claimed) == 1 and claimed[0].state == OutboxState.sending
        return claimed[0].id


async def test_supplement_stops_and_restarts_the_clock(db_url: str, fake_wechat: Any) -> None:
    settings = settings_for(db_url, fake_wechat.url)
    async with staff_client(settings) as client:
        today = dt.datetime.now(settings.server.tz).date()
        body = application(received_on=today.isoformat())
        number = (
            await (
                await client.post(ADMIN, json=body, headers=bearer("tok-editor-7f3a9c2e5b8d1f4a"))
            ).json()
        )["number"]
        resp = await client.post(
            f"{ADMIN}/{number}/supplement",
            json={"what": "请写明具体年份"},
            headers=bearer("tok-editor-7f3a9c2e5b8d1f4a"),
        )
        assert resp.status == 200 and (await resp.json())["state"] == "supplement"
        assert "暂停" in await say(client, f"查询申请 {number} 5678", "o-any")
        resp = await client.post(
            f"{ADMIN}/{number}/supplied",
            json={"on": today.isoformat()},
            headers=bearer("tok-editor-7f3a9c2e5b8d1f4a"),
        )
        data = await resp.json()
        assert (
            data["state"] == "received" and data["supplement"]["supplied_on"] == today.isoformat()
        )
        assert data["due_on"] == answer_due(await stored_calendar(), today).day.isoformat()
        listed = await (
            await client.get(
                f"{ADMIN}?state=received&due_before=2099-01-01",
                headers=bearer("tok-publisher-7f3a9c2e5b8d1f4a"),
            )
        ).json()
        assert [i["number"] for i in listed["items"]] == [number]


async def test_annual_report_balances(db_url: str, fake_wechat: Any) -> None:
    settings = settings_for(db_url, fake_wechat.url)
    async with staff_client(settings) as client:

        async def register(received: str, org: str | None = None) -> str:
            applicant = {**application()["applicant"]}
            if org:
                applicant.update(
                    type="法人或其他组织",
                    id_type="统一社会信用代码",
                    id_number="91350582MA2XXXXX0A",
                    org_kind=org,
                )
            resp = await client.post(
                ADMIN,
                json=application(applicant=applicant, received_on=received),
                headers=bearer("tok-editor-7f3a9c2e5b8d1f4a"),
            )
            assert resp.status == 201, await resp.text()
            return str((await resp.json())["number"])

        async def answer(number: str, outcome: str, reason: str | None = None) -> None:
            resp = await client.post(f"{ADMIN}/{number}/reply", json={"outcome": outcome, "reason": reason, "text": "答复"},
                                     headers=bearer("tok-editor-7f3a9c2e5b8d1f4a"))  # fmt: skip
            assert resp.status == 200, await resp.text()

        carried = await register("2025-12-20")
        a = await register("2026-01-05")
        b = await register("2026-02-06", org="商业企业")
        await register("2026-03-02")  # still open at the end of the year... if answered after
        await answer(carried, "予以公开")
        await answer(a, "不予公开", "属于国家秘密")
        await answer(b, "不予处理", "重复申请")
        await DisclosureRequest.filter(number=carried).update(replied_on=dt.date(2026, 1, 8))
        await DisclosureRequest.filter(number=a).update(replied_on=dt.date(2026, 1, 20))
        await DisclosureRequest.filter(number=b).update(
            replied_on=dt.date(2026, 3, 20)
        )  # after the due date
        report = await (await client.get("/api/v1/disclosure/annual-report?year=2026")).json()
        assert report["received"] == {"公民": 2, "法人或其他组织": 1, "total": 3}
        assert report["carried_over"] == 1
        assert (
            report["outcomes"]["予以公开"] == 1
            and report["outcomes"]["不予公开"]["属于国家秘密"] == 1
        )
        assert report["outcomes"]["不予处理"]["重复申请"] == 1 and report["outcomes"]["total"] == 3
        assert len(report["outcomes"]["不予公开"]) == 9 and len(report["outcomes"]["其他处理"]) == 4
        assert report["carried_forward"] == 1
        assert (
            report["received"]["total"] + report["carried_over"]
            == report["outcomes"]["total"] + report["carried_forward"]
        )
        assert (
            report["on_time_share"] == round(2 / 3, 4) and report["median_working_days"] == 13
        )  # 13, 11 and 26 working days
        assert "张三" not in str(report) and ID_NUMBER not in str(report)
        assert (await client.get("/api/v1/disclosure/annual-report?year=x")).status == 400


async def test_form_page_keeps_input_escaped_and_takes_the_openid_from_wechat(
    db_url: str, fake_wechat: Any
) -> None:
    from tests.participation.test_consultations import sign_in_with_wechat, token_of

    settings = settings_for(db_url, fake_wechat.url)
    hostile = '"><script>alert(1)</script>'
    async with staff_client(settings) as client:
        form = {"type": "公民", "name": hostile, "id_type": "居民身份证", "id_number": "123",
                "phone": PHONE, "description": hostile, "delivery": "邮寄", "address": "城关镇"}  # fmt: skip
        resp = await client.post("/disclosure/apply", data=form)
        html = await resp.text()
        assert resp.status == 422 and "居民身份证号码应为 18 位" in html
        assert "<script>alert(1)" not in html and "&lt;script&gt;" in html  # kept, escaped
        # From WeChat: authorised once, then the reply can come by WeChat.
        html = await sign_in_with_wechat(client, fake_wechat, "/disclosure/apply", RESIDENT)
        form.update(id_number=ID_NUMBER, delivery="微信", token=token_of(html))
        resp = await client.post("/disclosure/apply", data=form)
        assert resp.status == 201, await resp.text()
        number = (await resp.text()).split('id="number">')[1].split("<")[0]
        assert (await DisclosureRequest.get(number=number)).openid == RESIDENT
        assert number in await say(client, f"查询申请 {number}", RESIDENT)
        # The JSON route behind the form takes the same WeChat identity, and no other.
        resp = await client.post(
            "/api/v1/disclosure-requests", json=application(delivery="微信", openid=RESIDENT)
        )
        assert resp.status == 201
        stolen = await client.post(
            "/api/v1/disclosure-requests", json=application(delivery="微信", openid="o-fake-000009")
        )
        assert stolen.status == 422  # the resident's own WeChat says otherwise
