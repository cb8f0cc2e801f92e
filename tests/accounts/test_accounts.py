"""Staff accounts in the console: lockout, idle timeout, forced password change, disabling."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from bot.accounts import passwords
from bot.accounts import services as accounts
from bot.accounts.lockout import Lockout
from bot.accounts.models import Account, LoginFailure, StaffSession
from bot.accounts.permissions import can_edit_policy, handles_feedback
from bot.catalog.models import Policy, Status
from bot.config import Role
from bot.errors import Invalid
from bot.models import AuditEntry
from bot.web.session import Session
from tests.web.console_helpers import (
    PASSWORD,
    csrf_of,
    log_in,
    staff_client,
    staff_settings,
)

REDIS_URL = "redis://127.0.0.1:6379/0"


def another_browser(client: TestClient) -> TestClient:
    """A second browser (its own cookies) on the same server."""
    return TestClient(client.server)


async def _try(client: TestClient, name: str, password: str) -> Any:
    form = await client.get("/admin/login")
    return await client.post(
        "/admin/login", allow_redirects=False,
        data={"username": name, "password": password, "csrf": csrf_of(await form.text())},
    )  # fmt: skip


async def test_an_empty_console_says_how_to_create_the_first_admin(
    db_url: str, fake_wechat: Any
) -> None:
    async with staff_client(staff_settings(db_url, fake_wechat.url)) as client:
        await Account.all().delete()
        page = await (await client.get("/admin/login")).text()
        assert "policybot users add 用户名 --role admin" in page


def test_password_rules() -> None:
    for weak, why in [("Short-1a", "至少 12 位"), ("alllowercase-only", "至少三类"),
                      ("Zhang-San-2024!", "不能包含用户名")]:  # fmt: skip
        with pytest.raises(Invalid) as refused:
            passwords.check_rules("zhang-san", weak)
        assert why in refused.value.message
    passwords.check_rules("zhang-san", "Qingshan-2024-test")
    for _ in range(20):
        passwords.check_rules("anyone", passwords.temporary_password())


async def test_five_failures_lock_the_account_and_the_address(
    db_url: str, fake_wechat: Any
) -> None:
    async with staff_client(staff_settings(db_url, fake_wechat.url)) as client:
        wrong = [await _try(client, "李编辑", f"Wrong-password-{i}") for i in range(4)]
        assert {r.status for r in wrong} == {401}
        unknown = await _try(client, "没有这个人", "Wrong-password-x")
        text = await unknown.text()
        assert unknown.status == 429 and "已锁定 15 分钟" in text  # the fifth from this address
        assert "用户名" not in text.split('role="alert"')[1].split("</p>")[0]
        # The address is locked: even a right password of another account is refused.
        right = await _try(client, "王审核", PASSWORD)
        assert right.status == 429 and "policybot_console" not in right.cookies
        assert await AuditEntry.filter(action="login.failure").count() == 5
        typed = [e.actor for e in await AuditEntry.filter(action="login.failure").order_by("id")]
        assert typed == ["李编辑"] * 4 + [
            "没有…（不存在的用户名，5 个字符）"
        ]  # a typed secret is not kept
        locked = await AuditEntry.filter(action="login.locked").first()
        assert locked is not None and locked.address == "127.0.0.1" and locked.actor == "王审核"

        # Fifteen minutes later the lock is over.
        await LoginFailure.all().update(at=datetime.now(UTC) - timedelta(minutes=15, seconds=1))
        assert (await _try(client, "王审核", PASSWORD)).status == 303


async def test_account_lock_holds_from_any_address(db_url: str, fake_wechat: Any) -> None:
    async with staff_client(staff_settings(db_url, fake_wechat.url)):
        lockout = Lockout()
        for i in range(5):
            with pytest.raises(accounts.LoginRefused):
                await accounts.authenticate("李编辑", "Wrong-password-1", f"10.0.0.{i}", lockout)
        with pytest.raises(accounts.LoginRefused) as refused:
            await accounts.authenticate("李编辑", PASSWORD, "10.0.0.99", lockout)
        assert refused.value.code == "locked"
        # Another account from a fresh address is not affected.
        assert (
            await accounts.authenticate("王审核", PASSWORD, "10.0.0.98", lockout)
        ).name == "王审核"


async def test_lockout_counts_in_redis(db_url: str, fake_wechat: Any) -> None:
    redis = Redis.from_url(REDIS_URL, decode_responses=True)
    prefix = f"policybot-test:{uuid.uuid4().hex}:"
    try:
        async with staff_client(staff_settings(db_url, fake_wechat.url)):
            # Two lockouts over the same Redis stand for two processes.
            first, second = Lockout(redis, prefix), Lockout(redis, prefix)
            for i in range(5):
                with pytest.raises(accounts.LoginRefused):
                    await accounts.authenticate(
                        "李编辑", "Wrong-pass-1", f"10.1.0.{i}", (first, second)[i % 2]
                    )
            with pytest.raises(accounts.LoginRefused) as refused:
                await accounts.authenticate("李编辑", PASSWORD, "10.1.1.1", first)
            assert refused.value.code == "locked"
            assert 890 < await redis.ttl(f"{prefix}locked:account:李编辑") <= 900
            assert await LoginFailure.all().count() == 0  # nothing in the database
    finally:
        keys = [k async for k in redis.scan_iter(f"{prefix}*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


async def test_address_behind_a_trusted_proxy(db_url: str, fake_wechat: Any) -> None:
    forged = {"X-Forwarded-For": "198.51.100.1, 203.0.113.9"}
    plain = staff_settings(db_url, fake_wechat.url)
    async with staff_client(plain) as client:
        form = await client.get("/admin/login")
        await client.post("/admin/login", headers=forged, data={
            "username": "李编辑", "password": "x", "csrf": csrf_of(await form.text())})  # fmt: skip
        assert (await AuditEntry.get(action="login.failure")).address == "127.0.0.1"  # not trusted
    behind = staff_settings(db_url, fake_wechat.url, server={"trusted_proxies": ["127.0.0.1"]})
    async with staff_client(behind) as client:
        form = await client.get("/admin/login")
        await client.post("/admin/login", headers=forged, data={
            "username": "李编辑", "password": "y", "csrf": csrf_of(await form.text())})  # fmt: skip
        entry = await AuditEntry.filter(action="login.failure").order_by("-id").first()
        assert entry is not None and entry.address == "203.0.113.9"  # the hop our proxy saw


async def test_idle_session_ends(db_url: str, fake_wechat: Any) -> None:
    settings = staff_settings(db_url, fake_wechat.url, admin={"session_idle_minutes": 5})
    async with staff_client(settings) as client:
        await log_in(client, "李编辑")
        await StaffSession.all().update(last_seen_at=datetime.now(UTC) - timedelta(minutes=4))
        assert (await client.get("/admin/", allow_redirects=False)).status == 200
        touched = await StaffSession.first()
        assert touched is not None and datetime.now(UTC) - touched.last_seen_at < timedelta(
            seconds=5
        )
        await StaffSession.all().update(
            last_seen_at=datetime.now(UTC) - timedelta(minutes=5, seconds=1)
        )
        gone = await client.get("/admin/", allow_redirects=False)
        assert gone.status == 303 and gone.headers["Location"].startswith("/admin/login")
        assert await StaffSession.all().count() == 0
        form = await (await client.get(gone.headers["Location"])).text()
        assert "登录已失效（超过 5 分钟无操作" in form and "5 分钟无操作将自动退出" in form
        assert "登录已失效" not in await (await client.get("/admin/login")).text()  # said once


async def test_new_account_must_choose_a_password(db_url: str, fake_wechat: Any) -> None:
    async with staff_client(staff_settings(db_url, fake_wechat.url)) as admin:
        csrf = await log_in(admin, "管理员")
        created = await admin.post("/admin/accounts", data={
            "csrf": csrf, "name": "刘发布", "role": "publisher", "department": "县民政局"})  # fmt: skip
        page = await created.text()
        assert created.status == 200 and "账号已创建" in page
        temporary = page.split('<code id="temporary-password">')[1].split("</code>")[0]
        assert (await admin.get("/admin/accounts")).status == 200
        assert temporary not in await (await admin.get("/admin/accounts")).text()  # shown once

        async with another_browser(admin) as user:
            first = await _try(user, "刘发布", temporary)
            assert first.status == 303 and first.headers["Location"].startswith("/admin/password")
            blocked = await user.get("/admin/feedback")  # every page leads to the password form
            assert blocked.url.path == "/admin/password"
            form = await blocked.text()
            assert "首次登录" in form
            weak = await user.post("/admin/password", data={
                "csrf": csrf_of(form), "current_password": temporary,
                "new_password": "short", "new_password2": "short"})  # fmt: skip
            assert weak.status == 422 and "至少 12 位" in await weak.text()
            new = "Minzheng-Bureau-77"
            done = await user.post("/admin/password", allow_redirects=False, data={
                "csrf": csrf_of(form), "current_password": temporary,
                "new_password": new, "new_password2": new, "next": "/admin/"})  # fmt: skip
            assert done.status == 303 and done.headers["Location"] == "/admin/"
            home = await user.get("/admin/")
            assert home.status == 200 and "刘发布（发布员）" in await home.text()
            assert await StaffSession.filter(account__name="刘发布").count() == 1
            user.session.cookie_jar.clear()
            assert (await _try(user, "刘发布", temporary)).status == 401
            assert (await _try(user, "刘发布", new)).status == 303


async def test_password_change_and_disable_end_sessions(db_url: str, fake_wechat: Any) -> None:
    async with staff_client(staff_settings(db_url, fake_wechat.url)) as admin:
        admin_csrf = await log_in(admin, "管理员")
        async with another_browser(admin) as phone, another_browser(admin) as desk:
            await log_in(phone, "李编辑")
            csrf = await log_in(desk, "李编辑")
            new = "Another-Secret-42"
            changed = await desk.post("/admin/password", data={
                "csrf": csrf, "current_password": PASSWORD, "new_password": new,
                "new_password2": new})  # fmt: skip
            assert changed.status == 200 and changed.url.path == "/admin/"
            assert (await phone.get("/admin/", allow_redirects=False)).status == 303  # ended
            assert (await desk.get("/admin/", allow_redirects=False)).status == 200  # fresh one

            editor = await Account.get(name="李编辑")
            off = await admin.post(
                f"/admin/accounts/{editor.id}/disable", data={"csrf": admin_csrf}
            )
            assert off.status == 200 and "已停用 李编辑" in await off.text()
            assert (await desk.get("/admin/", allow_redirects=False)).status == 303
            refused = await _try(desk, "李编辑", new)
            assert refused.status == 401 and "用户名或密码不正确" in await refused.text()
            on = await admin.post(f"/admin/accounts/{editor.id}/enable", data={"csrf": admin_csrf})
            assert on.status == 200
            assert (await _try(desk, "李编辑", new)).status == 303

            reset = await admin.post(
                f"/admin/accounts/{editor.id}/reset", data={"csrf": admin_csrf}
            )
            assert "临时密码" in await reset.text()
            assert (await desk.get("/admin/", allow_redirects=False)).status == 303


async def test_only_admins_manage_accounts_and_refusals_are_audited(
    db_url: str, fake_wechat: Any
) -> None:
    async with staff_client(staff_settings(db_url, fake_wechat.url)) as client:
        csrf = await log_in(client, "王审核")
        assert "/admin/accounts" not in await (await client.get("/admin/")).text()
        assert (await client.get("/admin/accounts")).status == 403
        made = await client.post(
            "/admin/accounts", data={"csrf": csrf, "name": "x", "role": "admin"}
        )
        assert made.status == 403
        assert not await Account.filter(name="x").exists()
        assert (await client.get("/admin/audit")).status == 403
        refused = await AuditEntry.filter(action="access.refused").order_by("id")
        assert [(e.actor, e.object_id, e.address) for e in refused] == [
            ("王审核", "/admin/accounts", "127.0.0.1"),
            ("王审核", "/admin/accounts", "127.0.0.1"),
            ("王审核", "/admin/audit", "127.0.0.1"),
        ]


def test_least_privilege_predicates() -> None:
    def user(role: Role, department: str = "") -> Session:
        return Session(1, "x", role, department, "c", False, "")

    own = Policy(id="p", title="t", issuer="县民政局", status=Status.draft)
    published = Policy(id="q", title="t", issuer="县民政局", status=Status.published)
    assert can_edit_policy(user(Role.publisher, "县民政局"), own)
    assert not can_edit_policy(user(Role.publisher, "县教育局"), own)
    assert can_edit_policy(
        user(Role.publisher, "县民政局"), published
    )  # a correction: a new version
    assert not can_edit_policy(user(Role.editor, "县民政局"), own)
    assert can_edit_policy(user(Role.admin), own)
    assert handles_feedback(user(Role.editor)) and handles_feedback(user(Role.admin))
    assert not handles_feedback(user(Role.publisher))
