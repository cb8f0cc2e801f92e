"""The console's work screens over real HTTP: write and review a policy package, compose and
follow a campaign, the 留言 inbox's reply target, subscribers — with roles and CSRF enforced."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from aiohttp import FormData
from aiohttp.test_utils import TestClient

from bot.catalog import stored
from bot.catalog.models import Area, Interpretation, Policy, Status, Topic
from bot.models import Feedback, Subscriber, Subscription
from bot.push.models import Campaign, CampaignRun, Delivery
from tests.push.conftest import REGIONS
from tests.web.console_helpers import (
    RESIDENT,
    csrf_of,
    leave_message,
    log_in,
    staff_client,
    staff_settings,
)

ROOT = Path(__file__).resolve().parents[2]
POLICY_FORM = {
    "id": "qzb-2025-7-heating", "title": "关于冬季取暖补贴的通知", "issuer": "青山县民政局",
    "doc_number": "青民发〔2025〕7号", "index_number": "QS-2025-0007", "written_on": "2025-01-06",
    "validity": "有效", "disclosure": "主动公开", "areas": "社会救助", "topics": "relief",
    "keywords": "取暖，补贴", "summary": "低保户冬季取暖补贴每户 300 元。",
    "requires_interpretation": "1", "body": "一、补贴对象\n\n<script>alert(1)</script>低保户。",
    "i0_id": "qzb-2025-7-heating-jd", "i0_title": "一图读懂冬季取暖补贴", "i0_form": "图解",
    "i0_issuer": "青山县民政局", "i0_body": "每户 **300 元**。",
}  # fmt: skip


async def _catalog() -> None:
    await stored.save("regions", REGIONS)  # as content sync stores regions.yaml
    await Area.create(id="relief", name="社会救助", position=1)
    await Topic.create(id="relief", name="救助", aliases=["低保"], position=1)
    await Topic.create(id="elderly", name="养老", position=2)


def _version_hash(page: str) -> str:
    """The hash a publish form carries: the version the reviewer is shown."""
    found = re.search(r'name="version_hash" value="([0-9a-f]{64})"', page)
    assert found is not None
    return found[1]


async def _switch(client: TestClient, token: str) -> str:
    client.session.cookie_jar.clear()
    return await log_in(client, token)


async def test_policy_package_is_written_sent_back_and_published(
    db_url: str, fake_wechat: Any
) -> None:
    async with staff_client(staff_settings(db_url, fake_wechat.url)) as client:
        await _catalog()
        csrf = await log_in(client, "tok-publisher-7f3a9c2e5b8d1f4a")
        form = await (await client.get("/admin/policies/new")).text()
        for label in ("文号", "索引号", "发布机构", "成文日期", "有效性", "失效日期", "解读标题"):
            assert f">{label}" in form, label

        preview = await client.post(
            "/admin/preview", data={"csrf": csrf, "body": "**低保**<script>x</script>"}
        )
        assert (await preview.json())[
            "html"
        ] == '<p id="p-1"><strong>低保</strong></p>'  # no script
        assert (await client.post("/admin/preview", data={"body": "x"})).status == 403  # no CSRF

        bad = await client.post(
            "/admin/policies/new", data={**POLICY_FORM, "written_on": "2025-13-40", "csrf": csrf}
        )
        assert bad.status == 422
        text = await bad.text()
        assert (
            "成文日期" in text and "一图读懂冬季取暖补贴" in text
        )  # the refusal in words, nothing lost

        saved = await client.post(
            "/admin/policies/new", data={**POLICY_FORM, "csrf": csrf, "then": "save"}
        )
        assert saved.status == 200 and "草稿已保存" in await saved.text()
        policy = await Policy.get(id="qzb-2025-7-heating")
        assert (policy.status, policy.index_number) == (Status.draft, "QS-2025-0007")
        assert [a.name for a in await policy.areas.all()] == ["社会救助"]
        assert "<script>" not in policy.body_html
        interp = await Interpretation.get(id="qzb-2025-7-heating-jd")
        assert interp.form.value == "图解" and "<strong>300 元</strong>" in interp.body_html

        editor = await (await client.get("/admin/policies/qzb-2025-7-heating")).text()
        assert 'value="QS-2025-0007"' in editor and "一图读懂冬季取暖补贴" in editor
        submitted = await client.post(
            "/admin/policies/qzb-2025-7-heating",
            data={**POLICY_FORM, "csrf": csrf_of(editor), "then": "submit"},
        )
        assert "已提交审核" in await submitted.text()
        assert (await Policy.get(id=policy.id)).status == Status.review

        csrf = await _switch(client, "tok-reviewer-7f3a9c2e5b8d1f4a")
        review = await (await client.get("/admin/review")).text()
        for shown in ("QS-2025-0007", "青民发〔2025〕7号", "社会救助", "救助", "有效", "一图读懂冬季取暖补贴",
                      "qzb-2025-7-heating-jd", "图解", "审核发布（政策与 1 篇解读）"):  # fmt: skip
            assert shown in review, shown
        back = await client.post(
            f"/admin/review/{policy.id}/reject", data={"csrf": csrf, "reason": "补贴标准<请核对>"}
        )
        assert "已退回修改" in await back.text()

        csrf = await _switch(client, "tok-publisher-7f3a9c2e5b8d1f4a")
        returned = await (await client.get(f"/admin/policies/{policy.id}")).text()
        assert "王审核" in returned and "退回：补贴标准&lt;请核对&gt;" in returned
        again = await client.post(
            f"/admin/policies/{policy.id}", data={**POLICY_FORM, "csrf": csrf, "then": "submit"}
        )
        assert again.status == 200
        assert (
            await client.post(
                f"/admin/review/{policy.id}/publish", data={"csrf": csrf}, allow_redirects=False
            )
        ).status == 403

        csrf = await _switch(client, "tok-reviewer-7f3a9c2e5b8d1f4a")
        shown = _version_hash(await (await client.get("/admin/review")).text())
        done = await client.post(
            f"/admin/review/{policy.id}/publish", data={"csrf": csrf, "version_hash": shown}
        )
        assert "政策及其解读已发布" in await done.text()
        assert (await Interpretation.get(id=interp.id)).status == Status.published
        resident = await (await client.get(f"/policies/{policy.id}")).text()
        assert "一图读懂冬季取暖补贴" in resident

        # Published: the reviewer reads it; the publisher's editor saves a correction.
        view = await (await client.get(f"/admin/policies/{policy.id}")).text()
        assert "由发布员修改" in view and "<textarea" not in view
        csrf = await _switch(client, "tok-publisher-7f3a9c2e5b8d1f4a")
        correction = await (await client.get(f"/admin/policies/{policy.id}")).text()
        assert 'id="correction"' in correction and "<textarea" in correction
        # A content file's document: read-only, the file named.
        await Policy.filter(id=policy.id).update(source_path="policies/2025/heating.md")
        view = await (await client.get(f"/admin/policies/{policy.id}")).text()
        assert "policies/2025/heating.md" in view
        listing = await (await client.get("/admin/policies?q=取暖")).text()
        assert "关于冬季取暖补贴的通知" in listing and "内容文件" in listing


async def test_campaign_is_composed_checked_and_followed(db_url: str, fake_wechat: Any) -> None:
    settings = staff_settings(db_url, fake_wechat.url, wechat={"template_id": "tmpl-1"})
    async with staff_client(settings) as client:
        await _catalog()
        now = dt.datetime.now(dt.UTC)
        await Subscriber.bulk_create([
            Subscriber(openid=f"o-{i}", following=i != 3, region="东山镇" if i % 2 else "城关镇",
                       followed_at=now - dt.timedelta(days=30), last_active_at=now)
            for i in range(6)
        ])  # fmt: skip
        await Subscription.bulk_create(
            [Subscription(subscriber_id=f"o-{i}", topic_id="relief") for i in range(6)]
        )
        csrf = await log_in(client, "tok-editor-7f3a9c2e5b8d1f4a")
        compose = await (await client.get("/admin/campaigns/new")).text()
        assert "免打扰时段 22:00-08:00" in compose and "本月已群发 0 次" in compose
        assert "当前 5 人" in compose  # customer messages reach those active in 48 h

        body = {"csrf": csrf, "title": "取暖补贴开始申请", "text": "请于 1 月底前申请。",
                "topics": "relief", "regions": "东山镇", "channel": "template", "when": "now"}  # fmt: skip
        preview = await (await client.post("/admin/campaigns/preview", data=body)).json()
        assert preview["audience_count"] == 2  # o-1 and o-5; o-3 unfollowed
        assert (
            preview["plain"].startswith("【取暖补贴开始申请】")
            and ["title", "取暖补贴开始申请"] in preview["template"]
        )
        mars = await client.post("/admin/campaigns/new", data={**body, "regions": "火星镇"})
        assert mars.status == 422
        page = await mars.text()
        assert "没有这个镇街：火星镇" in page and 'value="取暖补贴开始申请"' in page  # nothing lost
        past = await client.post(
            "/admin/campaigns/new", data={**body, "when": "at", "send_at": "2020-01-01T09:00"}
        )
        assert past.status == 422 and "已经过去" in await past.text()
        weekly = await client.post(
            "/admin/campaigns/new",
            data={
                **body,
                "when": "repeat",
                "repeat": "weekly",
                "repeat_at": "09:30",
                "repeat_weekday": "mon",
            },
        )
        assert weekly.status == 200 and "每周一 09:30" in await weekly.text()
        assert (await Campaign.get(title="取暖补贴开始申请")).cron == "30 9 * * mon"

        reviewer = await _switch(client, "tok-reviewer-7f3a9c2e5b8d1f4a")
        cid = (await Campaign.get(title="取暖补贴开始申请")).id
        detail = await (await client.get(f"/admin/campaigns/{cid}")).text()
        for shown in ("请于 1 月底前申请。", "订阅“救助”的居民，且在东山镇", 'id="audience-count">2<', "模板 tmpl-1",
                      "每周一 09:30", "免打扰时段"):  # fmt: skip
            assert shown in detail, shown
        assert (
            await client.post("/admin/campaigns/new", data={**body, "csrf": reviewer})
        ).status == 403
        progress = await (await client.get(f"/admin/campaigns/{cid}/progress")).json()
        assert progress["state"] == "draft" and progress["counts"]["sent"] == 0

        # After a send: the report by WeChat error, and the failed ones sent again.
        await Campaign.filter(id=cid).update(state="done")
        run = await CampaignRun.create(campaign_id=cid, scheduled_for=now, state="done", total=2)
        await Delivery.create(run_id=run.id, campaign_id=cid, openid="o-1", state="sent")
        await Delivery.create(run_id=run.id, campaign_id=cid, openid="o-5", state="failed",
                              error_code=45009, error_message="reach max api daily quota limit")  # fmt: skip
        report = await (await client.get(f"/admin/campaigns/{cid}")).text()
        assert "<td>失败</td><td>45009</td><td>1</td>" in report
        retried = await client.post(f"/admin/campaigns/{cid}/retry", data={"csrf": reviewer})
        assert "失败的消息已重新排队发送" in await retried.text()
        assert (await Delivery.get(openid="o-5")).state == "pending"


async def test_inbox_shows_the_reply_target_and_who_cannot_be_reached(
    db_url: str, fake_wechat: Any
) -> None:
    async with staff_client(staff_settings(db_url, fake_wechat.url)) as client:
        fake_wechat.mark_active(RESIDENT)
        old = await leave_message(client, "路灯坏了三天")
        fresh = await leave_message(client, "低保怎么申请", openid="o-fake-000002")
        await Feedback.filter(id=old).update(
            created_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=50)
        )
        await Subscriber.filter(openid="o-fake-000002").update(following=False)  # unfollowed since
        await log_in(client, "tok-editor-7f3a9c2e5b8d1f4a")
        home = await (await client.get("/admin/")).text()
        assert 'id="count-overdue">1<' in home and 'href="/admin/feedback?status=overdue"' in home
        overdue = await (await client.get("/admin/feedback?status=overdue")).text()
        assert (
            "路灯坏了三天" in overdue
            and "低保怎么申请" not in overdue
            and "已超时 2.0 小时" in overdue
        )
        inbox = await (await client.get("/admin/feedback")).text()
        section = inbox[inbox.index(f'id="feedback-{fresh}"') :]
        assert "居民已取消关注" in section[:800] and "48 小时内有互动" not in section[:800]
        found = await (await client.get("/admin/feedback?status=all&q=路灯")).text()
        assert re.findall(r'id="feedback-(\d+)"', found) == [str(old)]


async def test_subscribers_by_topic_and_town_and_one_resident(
    db_url: str, fake_wechat: Any
) -> None:
    async with staff_client(staff_settings(db_url, fake_wechat.url)) as client:
        await _catalog()
        now = dt.datetime.now(dt.UTC)
        await Subscriber.bulk_create([
            Subscriber(openid="o-a", region="东山镇", followed_at=now - dt.timedelta(days=40)),
            Subscriber(openid="o-b", region="东山镇", followed_at=now - dt.timedelta(days=10)),
            Subscriber(openid="o-c", following=False, followed_at=now - dt.timedelta(days=60),
                       unfollowed_at=now - dt.timedelta(days=1)),
        ])  # fmt: skip
        await Subscription.create(subscriber_id="o-a", topic_id="relief")
        await log_in(client, "tok-publisher-7f3a9c2e5b8d1f4a")
        assert "只有编辑和审核人" in await (await client.get("/admin/residents")).text()
        await _switch(client, "tok-editor-7f3a9c2e5b8d1f4a")
        page = await (await client.get("/admin/residents")).text()
        assert 'id="following">2<' in page
        assert "<td>救助</td><td>1</td>" in page and "<td>东山镇</td><td>2</td>" in page
        counts = [int(n) for n in re.findall(r"：(\d+) 人</title>", page)]
        assert len(counts) == 12 and (counts[0], counts[-2], counts[-1]) == (0, 3, 2)
        one = await (await client.get("/admin/residents?openid=o-a")).text()
        assert "关注中" in one and "救助" in one and "东山镇" in one
        assert "没有找到这位居民" in await (await client.get("/admin/residents?openid=o-zz")).text()


def _multipart(fields: dict[str, str], files: list[tuple[str, str, bytes]]) -> FormData:
    form = FormData(quote_fields=False)  # file names in UTF-8, as browsers send them
    for key, value in fields.items():
        form.add_field(key, value)
    for key, filename, data in files:
        form.add_field(key, data, filename=filename, content_type="application/octet-stream")
    return form


async def test_editor_uploads_attachments_checked_by_content(
    db_url: str, fake_wechat: Any, tmp_path: Path
) -> None:
    limit = 2 * 1024**2
    settings = staff_settings(
        db_url, fake_wechat.url, attachments={"dir": str(tmp_path), "max_bytes": limit}
    )
    original = (ROOT / "content/attachments/qmf-2023-9-original.pdf").read_bytes()
    signed = original + b"\n%" + b"0" * (1536 * 1024)  # over the app's 1 MB form, under the limit
    tujie = (ROOT / "content/attachments/qmf-2023-9-tujie.png").read_bytes()
    async with staff_client(settings) as client:
        await _catalog()
        csrf = await log_in(client, "tok-publisher-7f3a9c2e5b8d1f4a")
        fields = {**POLICY_FORM, "csrf": csrf, "then": "save", "upload_title": "签发原件"}
        saved = await client.post(
            "/admin/policies/new", data=_multipart(fields, [("upload", "原件.pdf", signed)])
        )
        assert saved.status == 200 and "草稿已保存" in await saved.text()
        policy = await Policy.get(id=POLICY_FORM["id"])
        ((kept,),) = [policy.attachments]
        assert kept["title"] == "签发原件" and kept["file"].endswith(".pdf")
        assert (tmp_path / kept["file"]).read_bytes() == signed  # kept by the hash of its bytes

        # A page disguised as an image is refused by its bytes; nothing typed is lost.
        editor = await (await client.get(f"/admin/policies/{policy.id}")).text()
        assert f'value="{kept["file"]}"' in editor
        again = {**POLICY_FORM, "csrf": csrf_of(editor), "then": "save", "title": "改过的标题",
                 "a0_file": kept["file"], "a0_title": "签发原件", "a0_keep": "1"}  # fmt: skip
        disguised = await client.post(
            f"/admin/policies/{policy.id}",
            data=_multipart(again, [("upload", "图解.png", b"<html>not an image</html>")]),
        )
        page = await disguised.text()
        assert disguised.status == 422 and "附件“图解.png”" in page and "只接受" in page
        assert "改过的标题" in page and f'value="{kept["file"]}"' in page
        huge = await client.post(
            f"/admin/policies/{policy.id}",
            data=_multipart(again, [("upload", "大.pdf", original + b"0" * limit)]),
        )
        assert huge.status == 422 and "“大.pdf”过大（最大 2 MB）" in await huge.text()
        assert (await Policy.get(id=policy.id)).title == POLICY_FORM["title"]  # nothing saved

        # The 图解 added beside the original, submitted, published: residents get both.
        submitted = await client.post(
            f"/admin/policies/{policy.id}",
            data=_multipart({**again, "then": "submit", "upload_title": ""},
                            [("upload", "tujie.png", tujie)]),
        )  # fmt: skip
        assert "已提交审核" in await submitted.text()
        files = [a["file"] for a in (await Policy.get(id=policy.id)).attachments]
        assert files[0] == kept["file"] and files[1].endswith(".png")
        await _switch(client, "tok-reviewer-7f3a9c2e5b8d1f4a")
        review = await (await client.get("/admin/review")).text()
        done = await client.post(
            f"/admin/review/{policy.id}/publish",
            data={"csrf": csrf_of(review), "version_hash": _version_hash(review)},
        )
        assert "已发布" in await done.text()
        resident = await (await client.get(f"/policies/{policy.id}")).text()
        assert f'href="/attachments/{files[0]}" download' in resident
        assert f'<img src="/attachments/{files[1]}"' in resident
        served = await client.get(f"/attachments/{files[0]}")
        assert served.headers["Content-Type"] == "application/pdf"
        assert await served.read() == signed
