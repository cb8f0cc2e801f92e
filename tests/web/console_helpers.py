"""Shared by the console and feedback API tests: staff tokens, an app with them, logging in."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.config import Settings
from tests.conftest import make_settings
from tests.wechat.wx import WeChatServer, text_xml

TOKENS = [
    {"token": "tok-editor-7f3a9c2e5b8d1f4a", "role": "editor", "name": "李编辑"},
    {"token": "tok-editor2-7f3a9c2e5b8d1f4a", "role": "editor", "name": "赵编辑"},
    {"token": "tok-reviewer-7f3a9c2e5b8d1f4a", "role": "reviewer", "name": "王审核"},
    {"token": "tok-publisher-7f3a9c2e5b8d1f4a", "role": "publisher", "name": "张发布"},
]
RESIDENT = "o-fake-000001"  # a follower the WeChat stand-in knows
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def staff_settings(db_url: str, fake_url: str, **sections: Any) -> Settings:
    return make_settings(db_url, fake_url, admin={"api_tokens": TOKENS}, **sections)


def _app(settings: Settings, role: str = "web") -> web.Application:
    app = create_app(settings, role=role)
    if "console" not in app.router.named_resources():  # until routes.py registers them
        from bot.web import console, feedback_api

        feedback_api.setup_routes(app)
        console.setup_routes(app)
    return app


@asynccontextmanager
async def staff_client(settings: Settings, role: str = "web") -> AsyncIterator[TestClient]:
    """The app on loopback; ``role="all"`` also runs the push scheduler and workers."""
    async with TestClient(TestServer(_app(settings, role), host="127.0.0.1")) as client:
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


async def log_in(client: TestClient, token: str) -> str:
    """Log in through the form; returns the session's CSRF token from the dashboard."""
    form = await client.get("/admin/login")
    resp = await client.post(
        "/admin/login",
        data={"token": token, "csrf": csrf_of(await form.text()), "next": "/admin/"},
        allow_redirects=False,
    )
    assert resp.status == 303, await resp.text()
    page = await client.get("/admin/")
    assert page.status == 200
    return csrf_of(await page.text())


async def browser_log_in(page: Any, base_url: str, token: str) -> None:
    """Log a Playwright page in through the form, as a person would (by its labels)."""
    await page.goto(f"{base_url}/admin/login")
    await page.get_by_label("访问令牌").fill(token)
    await page.get_by_role("button", name="登录").click()
    await page.wait_for_url(f"{base_url}/admin/")
