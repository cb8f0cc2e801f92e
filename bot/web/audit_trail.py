"""The audit trail for admin API clients: CSV export, the chain check; refusals recorded.

Only admins read the trail (the console's screen is ``bot.web.console.audit``). ``record_refusals`` is the one
place that writes every refused action (403 from the console or the admin
API) to the trail, with who tried, from where and what.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from bot import audit
from bot.config import Role
from bot.keys import SETTINGS
from bot.web import session
from bot.web.auth import actor, client_address, find_token, require_role
from bot.web.openapi import document
from bot.web.responses import json_response

COLUMNS = ["id", "at", "actor", "role", "address", "action", "object_type", "object_id",
           "detail", "prev_hash", "hash"]  # fmt: skip
GUARDED = ("/admin", "/api/v1/admin/")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """Text a spreadsheet would run as a formula gets a leading ' (OWASP "CSV injection"):
    a failed log-in's user name is whatever the visitor typed."""
    return "'" + text if text[:1] in FORMULA_START else text


async def csv_response(request: web.Request) -> web.StreamResponse:
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


@document(response="Object")
async def export_api(request: web.Request) -> web.StreamResponse:
    """The whole audit trail as CSV, oldest first, with each entry's hashes (admin)."""
    require_role(request, Role.admin)
    return await csv_response(request)


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
        return audit.Actor(who.name, who.role, client_address(request))
    return audit.Actor("-", "", client_address(request))


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
