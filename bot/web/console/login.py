"""Logging in and out of the console (today with an admin API token as the password)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.keys import SETTINGS
from bot.web import session
from bot.web.auth import find_token
from bot.web.console.frame import User, action, back, log, refuse, render, see_other


def _next(value: str) -> str:
    """Only our own console pages: never an open redirect."""
    return (
        value
        if value.startswith("/admin/") and not value.startswith("//") and "\\" not in value
        else "/admin/"
    )


async def login_form(request: web.Request) -> web.Response:
    if session.current(request) is not None:
        raise back(_next(request.query.get("next", "")))
    nonce = session.new_login_nonce()
    response = render(request, "login.html", None, title="登录", error="",
                      next=_next(request.query.get("next", "")),
                      login_csrf=session.login_csrf(request, nonce))  # fmt: skip
    session.set_login_nonce(request, response, nonce)
    return response


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    if not session.login_csrf_ok(request, str(form.get("csrf", ""))):
        return refuse(request, None, "登录表单已失效，请重新打开登录页。")
    target = _next(str(form.get("next", "")))
    token = find_token(request.app[SETTINGS], str(form.get("token", "")).strip())
    if token is None:
        log.warning("console login failed", extra={"remote": request.remote})
        return render(request, "login.html", None, status=401, title="登录", next=target,
                      error="令牌不正确，请重新输入。",
                      login_csrf=session.login_csrf(request, request.cookies[session.LOGIN_COOKIE]))  # fmt: skip
    response = see_other(target)
    session.start(request, response, token)
    log.info("console login", extra={"actor": token.name, "role": token.role.value})
    return response


@action()
async def logout(request: web.Request, user: User, form: Any) -> web.StreamResponse:
    response = see_other("/admin/login")
    session.end(response)
    return response
