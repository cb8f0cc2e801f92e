"""Console log-in, log-out and the forced change of password.

The log-in form (用户名, 密码, 登录) calls ``bot.accounts.services.authenticate``,
which applies the lockout and writes the audit trail; a refusal never says
which part was wrong. A new account, or one an admin reset, must choose its
own password before any other page opens; changing it ends every session of
the account, and a fresh one is opened for the browser that changed it.
"""

from __future__ import annotations

from aiohttp import web

from bot import audit
from bot.accounts import services as accounts
from bot.accounts.lockout import Lockout
from bot.accounts.models import Account
from bot.errors import DomainError
from bot.keys import SERVICES, SETTINGS
from bot.web import session
from bot.web.auth import client_address
from bot.web.console.frame import log, refuse, render, see_other
from bot.web.errors import status_of

LOCKED_STATUS = 429
FIRST_ADMIN = (
    "尚未创建任何账号：请在服务器上运行 policybot users add 用户名 --role admin 创建第一个管理员。"
)
ENDED = "登录已失效（超过 {idle} 分钟无操作、密码已修改或账号已停用），请重新登录。"


def _next(value: str) -> str:
    """Only our own console pages: never an open redirect."""
    return (
        value
        if value.startswith("/admin/") and not value.startswith("//") and "\\" not in value
        else "/admin/"
    )


def _lockout(request: web.Request) -> Lockout:
    return Lockout(request.app[SERVICES].redis)


def _login_page(
    request: web.Request, target: str, error: str = "", status: int = 200, notice: str = ""
) -> web.Response:
    # After a failed attempt the form keeps its (already checked) token.
    nonce = request.cookies.get(session.LOGIN_COOKIE) if error else None
    nonce = nonce or session.new_login_nonce()
    idle = request.app[SETTINGS].admin.session_idle_minutes
    response = render(request, "login.html", None, status=status, title="登录", error=error,
                      next=target, login_csrf=nonce, notice=notice.format(idle=idle), warn=True,
                      idle=idle)  # fmt: skip
    session.set_login_nonce(request, response, nonce)
    return response


async def login_form(request: web.Request) -> web.StreamResponse:
    target = _next(request.query.get("next", ""))
    user = await session.current(request, pending=True)
    if user is not None:
        return see_other(f"/admin/password?next={target}" if user.must_change_password else target)
    if request.cookies.get(session.COOKIE):  # logout drops the cookie: this one ended otherwise
        response = _login_page(request, target, notice=ENDED)
        response.del_cookie(session.COOKIE, path="/admin")
        return response
    if not await Account.exists():
        return _login_page(request, target, notice=FIRST_ADMIN)
    return _login_page(request, target)


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    if not session.login_csrf_ok(request, str(form.get("csrf", ""))):
        return refuse(request, None, "登录表单已失效，请重新打开登录页。")
    target = _next(str(form.get("next", "")))
    name, password = str(form.get("username", "")), str(form.get("password", ""))
    try:
        account = await accounts.authenticate(
            name, password, client_address(request), _lockout(request)
        )
    except accounts.LoginRefused as exc:
        status = LOCKED_STATUS if exc.code == "locked" else 401
        return _login_page(request, target, exc.message, status)
    if account.must_change_password:
        target = f"/admin/password?next={target}"
    response = see_other(target)
    await session.start(request, response, account)
    log.info("console login", extra={"actor": account.name, "role": account.role})
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    user = await session.current(request, pending=True)
    form = await request.post()
    if user is None:
        return see_other("/admin/login")
    if not session.csrf_ok(request, user, str(form.get("csrf", ""))):
        return refuse(request, user, "表单已失效（安全校验未通过），请刷新页面后重试。")
    response = see_other("/admin/login")
    await session.end(request, response)
    await audit.record(user.actor, "logout", "account", user.name)
    return response


def _password_page(
    request: web.Request, user: session.Session, target: str, error: str = "", status: int = 200
) -> web.Response:
    return render(request, "password.html", user, status=status, title="修改密码", error=error,
                  next=target, forced=user.must_change_password)  # fmt: skip


async def password_form(request: web.Request) -> web.StreamResponse:
    user = await session.current(request, pending=True)
    if user is None:
        return see_other("/admin/login?next=/admin/password")
    return _password_page(request, user, _next(request.query.get("next", "")))


async def change_password(request: web.Request) -> web.StreamResponse:
    user = await session.current(request, pending=True)
    form = await request.post()
    if user is None:
        return refuse(request, None, "登录已过期，请重新登录后再提交。")
    if not session.csrf_ok(request, user, str(form.get("csrf", ""))):
        return refuse(request, user, "表单已失效（安全校验未通过），请刷新页面后重试。")
    target = _next(str(form.get("next", "")))
    new = str(form.get("new_password", ""))
    if new != str(form.get("new_password2", "")):
        return _password_page(request, user, target, "两次输入的新密码不一致", 422)
    account = await Account.get(id=user.account_id)
    try:
        await accounts.change_password(
            account, str(form.get("current_password", "")), new, user.actor
        )
    except DomainError as exc:
        return _password_page(request, user, target, exc.message, status_of(exc))
    response = see_other(target)
    await session.start(request, response, account)  # the old sessions, this one too, ended
    return response
