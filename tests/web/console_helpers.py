"""Shared by the console and feedback API tests: staff tokens and accounts, an app, logging in."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.accounts import passwords
from bot.accounts.models import Account
from bot.app import create_app
from bot.config import Settings
from tests.conftest import make_settings
from tests.wechat.wx import WeChatServer, text_xml

TOKENS = [
    {"token": "tok-editor-7f3a9c2e5b8d1f4a", "role": "editor", "name": "李编辑"},
    {"token": "tok-editor2-7f3a9c2e5b8d1f4a", "role": "editor", "name": "赵编辑"},
    {"token": "tok-reviewer-7f3a9c2e5b8d1f4a", "role": "reviewer", "name": "王审核"},
    {"token": "tok-publisher-7f3a9c2e5b8d1f4a", "role": "publisher", "name": "张发布"},
    {"token": "tok-admin-7f3a9c2e5b8d1f4a", "role": "admin", "name": "管理员"},
]
PASSWORD = "Qingshan-2024-test"  # every test account's password; meets the rules
DEPARTMENT = "县政府办公室"
STAFF = {t["name"]: t["role"] for t in TOKENS}  # an account for each token holder, by name
RESIDENT = "o-fake-000001"  # a follower the WeChat stand-in knows
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def staff_settings(db_url: str, fake_url: str, **sections: Any) -> Settings:
    sections["admin"] = {"api_tokens": TOKENS, **sections.get("admin", {})}
    return make_settings(db_url, fake_url, **sections)


def _app(settings: Settings, role: str = "web") -> web.Application:
    return create_app(settings, role=role)


@cache
def _password_hash() -> str:
    return passwords.hash_password(PASSWORD)  # argon2 is slow on purpose: hash once per run


async def add_staff() -> None:
    """An account (password already chosen) for each holder of a token, and an admin; no
    department, so the publisher may edit every policy (see ``bot.web.console.policies``)."""
    await Account.bulk_create([
        Account(name=name, role=role, department="", password_hash=_password_hash(),
                must_change_password=False)
        for name, role in STAFF.items()
    ], ignore_conflicts=True)  # fmt: skip


@asynccontextmanager
async def staff_client(settings: Settings, role: str = "web") -> AsyncIterator[TestClient]:
    """The app on loopback; ``role="all"`` also runs the push scheduler and workers."""
    async with TestClient(TestServer(_app(settings, role), host="127.0.0.1")) as client:
        await add_staff()
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def leave_message(client: TestClient, text: str, openid: str = RESIDENT) -> int:
    """The resident sends 留言 through the real callback; returns the feedback number."""
    reply = await WeChatServer(client).send(text_xml(f"留言 {text}", openid=openid))
    assert reply.status == 200
    number = re.search(r"编号 (\d+)", reply.text)
    assert number, reply.text
    return int(number.group(1))


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


async def log_in(client: TestClient, who: str, password: str = PASSWORD) -> str:
    """Log in through the form as the account ``who`` (or the holder of the token ``who``);
    returns the session's CSRF token from the dashboard."""
    name = next((t["name"] for t in TOKENS if t["token"] == who), who)
    form = await client.get("/admin/login")
    resp = await client.post(
        "/admin/login",
        data={"username": name, "password": password, "csrf": csrf_of(await form.text()),
              "next": "/admin/"},
        allow_redirects=False,
    )  # fmt: skip
    assert resp.status == 303, await resp.text()
    page = await client.get("/admin/")
    assert page.status == 200
    return csrf_of(await page.text())


async def browser_log_in(page: Any, base_url: str, who: str, password: str = PASSWORD) -> None:
    """Log a Playwright page in through the form, as a person would (by its labels), as the
    account ``who`` (or the holder of the token ``who``)."""
    await page.goto(f"{base_url}/admin/login")
    await page.get_by_label("用户名").fill(
        next((t["name"] for t in TOKENS if t["token"] == who), who)
    )
    await page.get_by_label("密码").fill(password)
    await page.get_by_role("button", name="登录").click()
    await page.wait_for_url(f"{base_url}/admin/")
