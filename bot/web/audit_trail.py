"""The audit trail for admins: the console page, CSV export, the chain check; refusals recorded.

Only admins read the trail (console and API). ``record_refusals`` is the one
place that writes every refused action (403 from the console or the admin
API) to the trail, with who tried, from where and what.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

import orjson
from aiohttp import web

from bot import audit
from bot.config import Role
from bot.models import AuditEntry
from bot.web import session
from bot.web.auth import actor, find_token, require_role
from bot.web.console import PER_PAGE, _page_number, can, page, refuse, render
from bot.web.keys import SETTINGS
from bot.web.openapi import document
from bot.web.responses import json_response

COLUMNS = ["id", "at", "actor", "role", "address", "action", "object_type", "object_id",
           "detail", "prev_hash", "hash"]  # fmt: skip
GUARDED = ("/admin", "/api/v1/admin/")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
ACTIONS = {
    "login.success": "登录成功",
    "login.failure": "登录失败",
    "login.locked": "锁定期间尝试登录",
    "logout": "退出登录",
    "access.refused": "操作被拒绝（无权限或表单失效）",
    "account.create": "新建账号",
    "account.disable": "停用账号",
    "account.enable": "启用账号",
    "account.reset": "重置密码",
    "account.password": "修改密码",
    "account.bind": "绑定微信",
    "account.binding_code": "生成微信绑定码",
    "tester.add": "登记测试人员",
    "tester.remove": "移除测试人员",
    "campaign.test_send": "测试发送",
}  # fmt: skip  (other actions are shown by their code)


@page
async def audit_page(request: web.Request, user: session.Session) -> web.Response:
    if not can(user):
        return refuse(request, user, "只有管理员可以查看审计日志。")
    number = _page_number(request)
    filters = {k: request.query.get(k, "").strip()[:64] for k in ("actor", "action")}
    query = AuditEntry.filter(**{k: v for k, v in filters.items() if v})
    total = await query.count()
    rows = await query.order_by("-id").offset((number - 1) * PER_PAGE).limit(PER_PAGE)
    check = await audit.verify() if request.query.get("verify") else None
    return render(request, "audit.html", user, title="审计日志", rows=rows, total=total,
                  page=number, pages=max(1, -(-total // PER_PAGE)), check=check,
                  actions=ACTIONS, filters=filters, query=urlencode(filters))  # fmt: skip


def _cell(text: str) -> str:
    """Text a spreadsheet would run as a formula gets a leading ' (OWASP "CSV injection"):
    a failed log-in's user name is whatever the visitor typed."""
    return "'" + text if text[:1] in FORMULA_START else text


async def _csv(request: web.Request) -> web.StreamResponse:
    tz = request.app[SETTINGS].server.tz
    response = web.StreamResponse(headers={
        "Content-Type": "text/csv; charset=utf-8", "Cache-Control": "no-store",
        "Content-Disposition": 'attachment; filename="audit.csv"',
    })  # fmt: skip
    await response.prepare(request)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")  # so that spreadsheet programs read the Chinese as UTF-8
    writer.writerow(COLUMNS)
    async for e in audit.entries():
        at = e.at.astimezone(tz).isoformat(timespec="seconds")
        detail = orjson.dumps(e.detail, option=orjson.OPT_SORT_KEYS).decode()
        writer.writerow([e.id, at, *map(_cell, [e.actor, e.role, e.address, e.action,
                         e.object_type, e.object_id, detail]), e.prev_hash, e.hash])  # fmt: skip
        if buffer.tell() > 64 * 1024:
            await response.write(buffer.getvalue().encode())
            buffer.seek(0)
            buffer.truncate()
    await response.write(buffer.getvalue().encode())
    await response.write_eof()
    return response


@page
async def audit_csv(request: web.Request, user: session.Session) -> web.StreamResponse:
    if not can(user):
        return refuse(request, user, "只有管理员可以导出审计日志。")
    return await _csv(request)


@document(response="Object")
async def export_api(request: web.Request) -> web.StreamResponse:
    """The whole audit trail as CSV, oldest first, with each entry's hashes (admin)."""
    require_role(request, Role.admin)
    return await _csv(request)


@document(response="Object")
async def verify_api(request: web.Request) -> web.Response:
    """Recompute the audit trail's hash chain: ``ok``, entries checked, each break found (admin)."""
    require_role(request, Role.admin)
    result = await audit.verify()
    return json_response({"ok": result.ok, "checked": result.checked, "problems": result.problems,
                          "head": result.head})  # fmt: skip


async def _who(request: web.Request) -> audit.Actor:
    user = await session.current(request, pending=True)
    if user is not None:
        return user.actor
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    token = (
        find_token(request.app[SETTINGS], presented.strip()) if scheme.lower() == "bearer" else None
    )
    if token is not None:
        who = actor(token)
        return audit.Actor(who.name, who.role, session.address(request))
    return audit.Actor("-", "", session.address(request))


@web.middleware
async def record_refusals(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Write every 403 on the console and the admin API to the audit trail."""
    if not request.path.startswith(GUARDED):
        return await handler(request)
    try:
        response = await handler(request)
    except web.HTTPForbidden:
        await _refused(request)
        raise
    if response.status == 403:
        await _refused(request)
    return response


async def _refused(request: web.Request) -> None:
    await audit.record(await _who(request), "access.refused", "route", request.path[:128],
                       method=request.method)  # fmt: skip


def setup_routes(app: web.Application) -> None:
    add_get = app.router.add_get
    add_get("/admin/audit", audit_page, name="console_audit")
    add_get("/admin/audit.csv", audit_csv, name="console_audit_csv")
    add_get("/api/v1/admin/audit/export", export_api, name="admin_audit_export")
    add_get("/api/v1/admin/audit/verify", verify_api, name="admin_audit_verify")
