"""Console pages for accounts: admins manage staff and testers; everyone binds their WeChat.

Thin views over ``bot.accounts.services``: an admin creates an account (a
temporary password is shown once, and must be changed at the first log-in),
disables, enables and resets it; registers the few testers a test send may
reach. Every member of staff can ask for a one-time 绑定 code here.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from aiohttp import web

from bot.accounts import passwords
from bot.accounts import services as accounts
from bot.accounts.models import Account, Tester
from bot.audit import Actor
from bot.config import Role
from bot.errors import DomainError
from bot.web import session
from bot.web.console.frame import ROLE_NAMES, action, can, page, record_id, refuse, render
from bot.web.errors import status_of

ADMIN = (Role.admin,)


async def _accounts_view(
    request: web.Request, user: session.Session, *, notice: str = "", error: str = "",
    status: int = 200, shown_password: str = "", shown_for: str = "",
) -> web.Response:  # fmt: skip
    return render(
        request, "accounts.html", user, status=status, title="账号管理", notice=notice,
        error=error, accounts=await accounts.list_accounts(), testers=await Tester.all(),
        roles=[r.value for r in Role], shown_password=shown_password, shown_for=shown_for,
        max_testers=accounts.MAX_TESTERS,
    )  # fmt: skip


@page
async def accounts_page(request: web.Request, user: session.Session) -> web.Response:
    if not can(user, Role.admin):
        return refuse(request, user, "只有管理员可以管理账号。")
    return await _accounts_view(request, user)


async def _step(
    request: web.Request, user: session.Session, run: Awaitable[object], notice: str,
    shown_for: str = "",
) -> web.Response:  # fmt: skip
    """Run one change; a string it returns is ``shown_for``'s temporary password, shown once."""
    try:
        result = await run
    except DomainError as exc:
        return await _accounts_view(request, user, error=exc.message, status=status_of(exc))
    shown = result if isinstance(result, str) else ""
    return await _accounts_view(request, user, notice=notice, shown_for=shown_for,
                                shown_password=shown)  # fmt: skip


async def _create(name: str, form: Any, who: Actor) -> str:
    temporary = passwords.temporary_password()
    await accounts.create(name, str(form.get("role", "")), temporary, who,
                          department=str(form.get("department", "")))  # fmt: skip
    return temporary


@action(*ADMIN)
async def create(request: web.Request, user: session.Session, form: Any) -> web.Response:
    name = str(form.get("name", "")).strip()
    return await _step(request, user, _create(name, form, user.actor), "账号已创建。", name)


async def _name(request: web.Request) -> str:
    account = await Account.get_or_none(id=record_id(request))
    if account is None:
        raise web.HTTPNotFound()
    return account.name


@action(*ADMIN)
async def disable(request: web.Request, user: session.Session, form: Any) -> web.Response:
    name = await _name(request)
    return await _step(request, user, accounts.set_disabled(name, True, user.actor),
                       f"已停用 {name}，其登录会话已全部结束。")  # fmt: skip


@action(*ADMIN)
async def enable(request: web.Request, user: session.Session, form: Any) -> web.Response:
    name = await _name(request)
    return await _step(request, user, accounts.set_disabled(name, False, user.actor),
                       f"已启用 {name}。")  # fmt: skip


@action(*ADMIN)
async def reset(request: web.Request, user: session.Session, form: Any) -> web.Response:
    name = await _name(request)
    return await _step(request, user, accounts.reset(name, user.actor), f"已重置 {name} 的密码。",
                       name)  # fmt: skip


@action(*ADMIN)
async def add_tester(request: web.Request, user: session.Session, form: Any) -> web.Response:
    run = accounts.add_tester(str(form.get("name", "")), str(form.get("openid", "")), user.actor)
    return await _step(request, user, run, "测试人员已登记。")


@action(*ADMIN)
async def remove_tester(request: web.Request, user: session.Session, form: Any) -> web.Response:
    return await _step(request, user, accounts.remove_tester(record_id(request), user.actor),
                       "测试人员已移除。")  # fmt: skip


# --- my account --------------------------------------------------------------------------------


async def _me_view(request: web.Request, user: session.Session, code: str = "") -> web.Response:
    account = await Account.get(id=user.account_id)
    return render(request, "account.html", user, title="我的账号", account=account, code=code,
                  valid_minutes=int(accounts.BINDING_VALID.total_seconds() // 60),
                  role_name=ROLE_NAMES[account.role])  # fmt: skip


@page
async def me_page(request: web.Request, user: session.Session) -> web.Response:
    return await _me_view(request, user)


@action()
async def binding_code(request: web.Request, user: session.Session, form: Any) -> web.Response:
    account = await Account.get(id=user.account_id)
    return await _me_view(request, user, await accounts.new_binding_code(account, user.actor))
