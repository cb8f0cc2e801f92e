"""Least privilege in the console: a publisher edits only their department's policies;
an editor's 发送测试 reaches only their own bound WeChat."""

from __future__ import annotations

from typing import Any

from bot.accounts import services as accounts
from bot.accounts.models import Account
from bot.audit import Actor
from bot.catalog.models import Policy
from bot.push.models import Campaign, CampaignRun
from tests.web.console_helpers import (
    PASSWORD,
    csrf_of,
    log_in,
    staff_client,
    staff_settings,
)
from tests.wechat.wx import WeChatServer, text_xml

ADMIN = Actor("管理员", "admin")
MINE = {
    "id": "mz-2025-1", "title": "关于发放取暖补贴的通知", "issuer": "青山县民政局",
    "written_on": "2025-01-06", "validity": "有效", "disclosure": "主动公开", "body": "正文。",
}  # fmt: skip
THEIRS = {**MINE, "id": "jy-2025-1", "title": "关于学前教育资助的通知", "issuer": "青山县教育局"}


async def test_publisher_edits_only_own_department(db_url: str, fake_wechat: Any) -> None:
    async with staff_client(staff_settings(db_url, fake_wechat.url)) as client:
        await accounts.create("民政发布", "publisher", PASSWORD, ADMIN, department="青山县民政局")
        await accounts.create("教育发布", "publisher", PASSWORD, ADMIN, department="青山县教育局")
        await Account.filter(name__in=["民政发布", "教育发布"]).update(must_change_password=False)

        csrf = await log_in(client, "教育发布")
        made = await client.post("/admin/policies/new", data={**THEIRS, "csrf": csrf})
        assert made.status == 200 and "已保存" in await made.text()
        client.session.cookie_jar.clear()

        csrf = await log_in(client, "民政发布")
        made = await client.post("/admin/policies/new", data={**MINE, "csrf": csrf})
        assert made.status == 200 and "已保存" in await made.text()
        listed = await (await client.get("/admin/policies")).text()
        assert MINE["title"] in listed and THEIRS["title"] not in listed

        opened = await client.get(f"/admin/policies/{THEIRS['id']}")
        assert opened.status == 403 and "其他发布机构" in await opened.text()
        saved = await client.post(
            f"/admin/policies/{THEIRS['id']}",
            data={**THEIRS, "title": "改掉", "csrf": csrf, "then": "submit"},
        )
        assert saved.status == 403 and "其他发布机构" in await saved.text()
        moved = await client.post("/admin/policies/new", data={**THEIRS, "id": "x-1", "csrf": csrf})
        assert moved.status == 403  # nor a new policy in another department's name
        assert (await Policy.get(id=THEIRS["id"])).title == THEIRS["title"]

        # Its own: opened, corrected and submitted.
        assert (await client.get(f"/admin/policies/{MINE['id']}")).status == 200
        saved = await client.post(
            f"/admin/policies/{MINE['id']}",
            data={**MINE, "summary": "每户 300 元。", "csrf": csrf, "then": "submit"},
        )
        assert saved.status == 200 and "已提交审核" in await saved.text()


async def test_editor_test_send_needs_own_binding(db_url: str, fake_wechat: Any) -> None:
    async with staff_client(staff_settings(db_url, fake_wechat.url)) as client:
        campaign = await Campaign.create(
            title="低保标准提高", text="城乡低保标准提高。", channel="customer",
            audience={}, author="赵编辑",
        )  # fmt: skip
        csrf = await log_in(client, "tok-editor-7f3a9c2e5b8d1f4a")
        page = await (await client.get(f"/admin/campaigns/{campaign.id}")).text()
        assert "发送测试" in page

        no_csrf = await client.post(f"/admin/campaigns/{campaign.id}/test-send", data={})
        assert no_csrf.status == 403
        refused = await client.post(
            f"/admin/campaigns/{campaign.id}/test-send", data={"csrf": csrf_of(page)}
        )
        assert refused.status == 403 and "我的账号" in await refused.text()
        assert not await CampaignRun.filter(campaign_id=campaign.id, kind="test").exists()

        editor = await Account.get(name="李编辑")
        code = await accounts.new_binding_code(editor, Actor("李编辑", "editor"))
        reply = await WeChatServer(client).send(text_xml(f"绑定 {code}", openid="o-fake-000005"))
        assert "李编辑" in reply.text

        sent = await client.post(f"/admin/campaigns/{campaign.id}/test-send", data={"csrf": csrf})
        assert sent.status == 200 and "测试消息已排队" in await sent.text()
        assert await CampaignRun.filter(campaign_id=campaign.id, kind="test").count() == 1
