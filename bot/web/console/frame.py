"""What every console screen shares: rendering, the session and CSRF checks, roles, navigation.

``page`` wraps a GET screen (log in first), ``action`` a POST form (session,
CSRF token and role checked on the server, 403 otherwise). Templates are
Jinja2 with autoescaping: everything residents and staff wrote is escaped;
only bodies already sanitised by nh3 are inserted as HTML.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlencode

import jinja2
from aiohttp import BodyPartReader, web
from multidict import MultiDict, MultiDictProxy

from bot.audit import Actor
from bot.config import Role
from bot.keys import SETTINGS
from bot.web import params, session
from bot.web.modes import TEMPLATES

log = logging.getLogger("bot.console")

HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}
ROLE_NAMES = {"publisher": "发布员", "editor": "编辑", "reviewer": "审核人", "admin": "管理员"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
User = session.Session
FORM_TEXT_LIMIT = 1024**2  # the text of one form, as the app's client_max_size for the rest
CHUNK = 64 * 1024


@dataclass(frozen=True)
class Upload:
    """A file sent with a console form, read up to ``attachments.max_bytes``; a larger one
    is read to its end (so the fields after it arrive) but kept empty, ``too_large``."""

    filename: str
    data: bytes
    too_large: bool = False


@dataclass(frozen=True)
class NavItem:
    href: str
    label: str
    roles: tuple[Role, ...] = ()  # empty: everyone


NAV = (
    NavItem("/admin/", "概览"),
    NavItem("/admin/policies", "政策发布"),
    NavItem("/admin/review", "审核发布", (Role.reviewer,)),
    NavItem("/admin/campaigns", "推送任务"),
    NavItem("/admin/feedback", "居民留言"),
    NavItem("/admin/residents", "订阅居民", (Role.editor, Role.reviewer)),
    NavItem("/admin/disclosure", "依申请公开"),  # publishers see applicants masked
    NavItem("/admin/consultations", "征求意见"),
    NavItem("/admin/search", "未找到的查询"),
    NavItem("/admin/accounts", "账号管理", (Role.admin,)),
    NavItem("/admin/audit", "审计日志", (Role.admin,)),
    NavItem("/admin/account", "我的账号"),
)


def can(user: User | None, *roles: Role) -> bool:
    """Admin may do everything; no roles given means any logged-in user."""
    if user is None:
        return False
    return not roles or user.token.role == Role.admin or user.token.role in roles


def who(user: User) -> Actor:
    """How the logged-in user appears in the audit trail and four-eyes checks."""
    return user.actor


def local_time(request: web.Request) -> Callable[[dt.datetime | None], str]:
    tz = request.app[SETTINGS].server.tz

    def fmt(value: dt.datetime | None) -> str:
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value else ""

    return fmt


@cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES / "console"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def _section(path: str) -> str:
    """The navigation entry a path belongs to (``/admin/policies/x`` → ``/admin/policies``)."""
    best = "/admin/"
    for item in NAV:
        if item.href != "/admin/" and (path == item.href or path.startswith(item.href + "/")):
            best = item.href
    return best


def render(
    request: web.Request, template: str, user: User | None, *, status: int = 200, **context: Any
) -> web.Response:
    nav = [item for item in NAV if can(user, *item.roles)] if user else []
    html = _env().get_template(template).render(
        user=user, csrf=session.csrf_token(request, user) if user else "",
        can=lambda *r: can(user, *r), role_names=ROLE_NAMES, local=local_time(request),
        path=request.path, nav=nav, section=_section(request.path), **context,
    )  # fmt: skip
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8",
                        headers=HEADERS)  # fmt: skip


def refuse(
    request: web.Request, user: User | None, message: str, status: int = 403
) -> web.Response:
    return render(
        request, "message.html", user, status=status, title="无法完成操作", message=message
    )


def back(path: str, **params: Any) -> web.HTTPSeeOther:
    query = {k: v for k, v in params.items() if v is not None}
    return web.HTTPSeeOther(f"{path}?{urlencode(query)}" if query else path, headers=HEADERS)


def see_other(location: str) -> web.Response:
    """A 303 that can carry cookies (raising HTTPSeeOther cannot set them portably)."""
    return web.Response(status=303, headers={**HEADERS, "Location": location})


def page(handler: Callable[[web.Request, User], Awaitable[web.StreamResponse]]) -> Handler:
    """A GET page: logged-in users only, others go to the login form first."""

    async def wrapper(request: web.Request) -> web.StreamResponse:
        user = await session.current(request)
        if user is None:
            raise back("/admin/login", next=request.path_qs)
        return await handler(request, user)

    return wrapper


def action(*roles: Role) -> Callable[[Any], Handler]:
    """A POST form: a session, its CSRF token and one of ``roles`` (admin always), else 403."""

    def decorate(
        handler: Callable[[web.Request, User, Any], Awaitable[web.StreamResponse]],
    ) -> Handler:
        async def wrapper(request: web.Request) -> web.StreamResponse:
            user = await session.current(request)
            if user is None:
                return refuse(request, None, "登录已过期，请重新登录后再提交。")
            form = await read_form(request)
            if not session.csrf_ok(request, user, str(form.get("csrf", ""))):
                log.warning("console form without a valid CSRF token", extra={"path": request.path})
                return refuse(request, user, "表单已失效（安全校验未通过），请刷新页面后重试。")
            if not can(user, *roles):
                names = "、".join(ROLE_NAMES[r.value] for r in roles)
                return refuse(request, user, f"该操作需要以下角色之一：{names}。")
            return await handler(request, user, form)

        return wrapper

    return decorate


async def read_form(request: web.Request) -> MultiDictProxy[Any]:
    """The posted form. A multipart form (one with a file) is streamed, so a file may be
    as large as ``attachments.max_bytes`` while the text stays within ``FORM_TEXT_LIMIT``."""
    if request.content_type != "multipart/form-data":
        return await request.post()
    limit = request.app[SETTINGS].attachments.max_bytes
    out: MultiDict[Any] = MultiDict()
    text_left = FORM_TEXT_LIMIT
    async for part in await request.multipart():
        if not isinstance(part, BodyPartReader) or not part.name:
            continue
        if part.filename is not None:
            data, too_large = await _read_part(part, limit)
            if part.filename or data:  # an empty file input still sends a part
                out.add(part.name, Upload(part.filename, b"" if too_large else data, too_large))
            continue
        raw, too_large = await _read_part(part, text_left)
        if too_large:
            raise web.HTTPRequestEntityTooLarge(FORM_TEXT_LIMIT, FORM_TEXT_LIMIT + 1)
        text_left -= len(raw)
        out.add(part.name, raw.decode(part.get_charset("utf-8"), errors="replace"))
    return MultiDictProxy(out)


async def _read_part(part: BodyPartReader, limit: int) -> tuple[bytes, bool]:
    """A part's bytes up to ``limit``; past it the rest is read and dropped."""
    data = bytearray()
    while chunk := await part.read_chunk(CHUNK):
        if len(data) <= limit:
            data += chunk
    return bytes(data), len(data) > limit


def record_id(request: web.Request) -> int:
    return params.path_id(request)


def page_number(request: web.Request) -> int:
    return params.integer(request, "page", 1, 1, params.MAX_PAGE)
