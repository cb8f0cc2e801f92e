"""The staff console at /admin/: login, CSRF, roles, and the work staff do there."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient
from yarl import URL

from bot.catalog import publishing
from bot.catalog.models import Policy, Status
from bot.push import campaigns
from bot.push.models import Campaign, CampaignState
from tests.web.console_helpers import (
    PASSWORD,
    RESIDENT,
    bearer,
    csrf_of,
    leave_message,
    log_in,
    staff_client,
    staff_settings,
)


def _set_cookie(client: TestClient, name: str, value: str) -> None:
    client.session.cookie_jar.clear(lambda c: c.key == name)
    client.session.cookie_jar.update_cookies({name: value}, response_url=client.make_url("/admin/"))


async def test_login_wrong_then_right_and_logout(db_url: str, fake_wechat: Any) -> None:
    async with staff_client(staff_settings(db_url, fake_wechat.url)) as client:
        resp = await client.get("/admin/feedback", allow_redirects=False)
        assert resp.status == 303
        location = URL(resp.headers["Location"])
        assert (location.path, location.query["next"]) == ("/admin/login", "/admin/feedback")

        form = await client.get("/admin/login?next=/admin/feedback")
        page = await form.text()
        assert '<label for="username">用户名</label>' in page and 'type="password"' in page
        no_csrf = await client.post(
            "/admin/login", data={"username": "李编辑", "password": PASSWORD},
            allow_redirects=False,
        )  # fmt: skip
        assert no_csrf.status == 403
        wrong = await client.post(
            "/admin/login",
            data={"username": "李编辑", "password": PASSWORD + "x", "csrf": csrf_of(page)},
        )
        assert wrong.status == 401
        assert "用户名或密码不正确" in await wrong.text()

        right = await client.post(
            "/admin/login",
            data={"username": "李编辑", "password": PASSWORD, "csrf": csrf_of(page),
                  "next": "/admin/feedback"},
            allow_redirects=False,
        )  # fmt: skip
        assert right.status == 303, await right.text()
        assert right.headers["Location"] == "/admin/feedback"
        cookie = right.cookies["policybot_console"]
        assert cookie["httponly"] and cookie["samesite"] == "Strict" and not cookie["secure"]
        assert PASSWORD not in cookie.value
        home = await client.get("/admin/")
        assert home.status == 200
        text = await home.text()
        assert "李编辑（编辑）" in text and "居民留言" in text

        forged = cookie.value[:-1] + ("y" if cookie.value.endswith("x") else "x")
        _set_cookie(client, "policybot_console", forged)
        assert (await client.get("/admin/", allow_redirects=False)).status == 303  # forged
        _set_cookie(client, "policybot_console", cookie.value)

        assert (await client.post("/admin/logout", allow_redirects=False)).status == 403  # no CSRF
        out = await client.post(
            "/admin/logout", data={"csrf": csrf_of(text)}, allow_redirects=False
        )
        assert out.status == 303
        assert (await client.get("/admin/", allow_redirects=False)).status == 303
        # The session ended on the server: the old cookie, presented again, is refused.
        _set_cookie(client, "policybot_console", cookie.value)
        assert (await client.get("/admin/", allow_redirects=False)).status == 303


async def test_cookies_are_secure_behind_https(db_url: str, fake_wechat: Any) -> None:
    settings = staff_settings(db_url, fake_wechat.url, server={"base_url": "https://policy.test"})
    async with staff_client(settings) as client:
        form = await client.get("/admin/login")
        nonce = form.cookies["policybot_login"]
        assert nonce["secure"] and nonce["httponly"]
        _set_cookie(client, "policybot_login", nonce.value)  # the test speaks plain HTTP
        right = await client.post("/admin/login", allow_redirects=False,
                                  data={"username": "王审核", "password": PASSWORD,
                                        "csrf": csrf_of(await form.text())})  # fmt: skip
        assert right.status == 303
        assert right.cookies["policybot_console"]["secure"]


async def test_feedback_is_escaped_and_answered_from_the_console(
    db_url: str, fake_wechat: Any
) -> None:
    async with staff_client(staff_settings(db_url, fake_wechat.url)) as client:
        fake_wechat.mark_active(RESIDENT)
        number = await leave_message(client, "<script>alert('x')</script>路灯坏了")

        csrf = await log_in(client, "tok-publisher-7f3a9c2e5b8d1f4a")  # may read, not answer
        page = await (await client.get("/admin/feedback")).text()
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;路灯坏了" in page
        assert "<script>" not in page
        assert f'action="/admin/feedback/{number}/answer"' not in page
        url = f"/admin/feedback/{number}/answer"
        refused = await client.post(url, data={"answer": "好", "csrf": csrf}, allow_redirects=False)
        assert refused.status == 403
        assert "编辑" in await refused.text()

        client.session.cookie_jar.clear()
        csrf = await log_in(client, "tok-editor-7f3a9c2e5b8d1f4a")
        page = await (await client.get("/admin/feedback")).text()
        assert f'action="/admin/feedback/{number}/answer"' in page
        assert "48 小时内有互动" in page
        no_csrf = await client.post(url, data={"answer": "已报修"}, allow_redirects=False)
        assert no_csrf.status == 403
        stale = await client.post(
            url,
            data={"answer": "已报修", "csrf": ("y" if csrf[0] == "x" else "x") + csrf[1:]},
            allow_redirects=False,
        )
        assert stale.status == 403
        assert fake_wechat.messages(RESIDENT) == []

        done = await client.post(url, data={"answer": "已报修，<b>三天</b>内修复", "csrf": csrf})
        assert done.status == 200
        page = await done.text()
        assert "已通过微信客服消息发送给居民" in page
        assert "已报修，&lt;b&gt;三天&lt;/b&gt;内修复" in page and "已通过微信送达" in page
        sent = fake_wechat.messages(RESIDENT)
        assert (
            len(sent) == 1 and "已报修，<b>三天</b>内修复" in sent[0]["payload"]["text"]["content"]
        )

        api = await (
            await client.get(
                "/api/v1/admin/feedback", headers=bearer("tok-reviewer-7f3a9c2e5b8d1f4a")
            )
        ).json()
        assert api["items"][0]["answered_by"] == "李编辑"

        # Outside the window (WeChat refuses): recorded, and the page says so plainly.
        other = await leave_message(client, "第二个问题", openid="o-fake-000002")
        result = await client.post(
            f"/admin/feedback/{other}/answer", data={"answer": "答复", "csrf": csrf}
        )
        assert result.status == 200
        assert "不允许主动回复" in await result.text()


async def test_campaigns_and_review_follow_roles(db_url: str, fake_wechat: Any) -> None:
    settings = staff_settings(db_url, fake_wechat.url)
    async with staff_client(settings) as client:
        editor = campaigns.Actor("李编辑", "editor")
        mass = await campaigns.create(
            {"title": "医保缴费提醒", "text": "请按时缴费", "channel": "mass", "audience": {"everyone": True}},
            editor, settings,
        )  # fmt: skip
        own = await campaigns.create(
            {"title": "王审核自己写的", "text": "x", "channel": "customer", "audience": {"everyone": True}},
            campaigns.Actor("王审核", "editor"), settings,
        )  # fmt: skip
        publisher = publishing.Actor("张发布", "publisher")
        await publishing.create_policy(
            {"id": "test-review", "title": "关于测试审核的通知", "issuer": "县政府办公室",
             "written_on": "2024-05-06", "body": "正文"}, publisher,
        )  # fmt: skip
        await publishing.submit("test-review", publisher)

        csrf = await log_in(client, "tok-editor-7f3a9c2e5b8d1f4a")
        home = await (await client.get("/admin/")).text()
        assert 'id="count-review"' not in home  # not the editor's job
        assert 'href="/admin/review"' not in home  # nor in the navigation
        listing = await (await client.get("/admin/campaigns")).text()
        assert (
            "医保缴费提醒" in listing
            and "请按时缴费" in listing
            and "全部关注公众号的居民" in listing
        )
        page = await (await client.get(f"/admin/campaigns/{mass.id}")).text()
        assert page.count("API群发保护") == 2  # the channel's cost and the warning beside it
        assert "/approve" not in page and "取消推送" in page
        assert "API群发保护" not in await (await client.get(f"/admin/campaigns/{own.id}")).text()
        approve = f"/admin/campaigns/{mass.id}/approve"
        assert (
            await client.post(approve, data={"csrf": csrf}, allow_redirects=False)
        ).status == 403
        review = await (await client.get("/admin/review")).text()
        assert "关于测试审核的通知" in review and '/publish"' not in review
        publish = "/admin/review/test-review/publish"
        assert (
            await client.post(publish, data={"csrf": csrf}, allow_redirects=False)
        ).status == 403

        client.session.cookie_jar.clear()
        csrf = await log_in(client, "tok-reviewer-7f3a9c2e5b8d1f4a")
        home = await (await client.get("/admin/")).text()
        assert 'id="count-campaigns">2<' in home and 'id="count-review">1<' in home
        page = await (await client.get(f"/admin/campaigns/{mass.id}")).text()
        assert f'action="/admin/campaigns/{mass.id}/approve"' in page
        assert "全部关注公众号的居民" in page and "请按时缴费" in page  # the whole thing approved
        own_page = await (await client.get(f"/admin/campaigns/{own.id}")).text()
        assert f'action="/admin/campaigns/{own.id}/approve"' not in own_page
        assert "不能审核自己创建的推送任务" in own_page
        assert (await client.post(approve, allow_redirects=False)).status == 403  # CSRF missing
        shown = re.search(r'name="version_hash" value="([0-9a-f]{64})"', page)
        assert shown is not None  # the approve form carries the hash of the campaign shown
        stale = await client.post(approve, data={"csrf": csrf, "version_hash": "0" * 64})
        assert stale.status == 409 and "审阅后已被修改" in await stale.text()
        ok = await client.post(approve, data={"csrf": csrf, "version_hash": shown[1]})
        assert ok.status == 200 and "已审核通过" in await ok.text()
        assert (await Campaign.get(id=mass.id)).state == CampaignState.scheduled
        again = await client.post(approve, data={"csrf": csrf})
        assert again.status == 409 and "只有草稿可以审核通过" in await again.text()
        # 取消推送 asks first (issue 9 item 11): the link leads to a confirmation page.
        confirm = await (await client.get(f"/admin/campaigns/{own.id}/cancel")).text()
        assert "确认取消推送" in confirm and "不能恢复" in confirm
        assert (await Campaign.get(id=own.id)).state == CampaignState.draft
        cancelled = await client.post(f"/admin/campaigns/{own.id}/cancel", data={"csrf": csrf})
        assert cancelled.status == 200 and "推送任务已取消" in await cancelled.text()
        assert (await Campaign.get(id=own.id)).state == CampaignState.cancelled

        no_reason = await client.post("/admin/review/test-review/reject", data={"csrf": csrf})
        assert no_reason.status == 422 and "请填写退回理由" in await no_reason.text()
        review = await (await client.get("/admin/review")).text()
        seen = re.search(r'name="version_hash" value="([0-9a-f]{64})"', review)
        assert seen is not None  # the form carries the hash of the version shown
        done = await client.post(publish, data={"csrf": csrf, "version_hash": seen[1]})
        assert done.status == 200 and "已发布" in await done.text()
        assert (await Policy.get(id="test-review")).status == Status.published
        assert (await client.get("/policies/test-review")).status == 200
