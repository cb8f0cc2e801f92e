"""Query and path parameters, parsed in one place for every route.

A value a route cannot use is refused here, before any query reaches the
database: a bad number, page or choice is a 400 and an id that cannot exist
(not digits, beyond the database's integer) a 404, each with a readable
message; a NUL byte anywhere in the path or query is a 400 for every route
(PostgreSQL refuses NUL in text, which would otherwise surface as a 500).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any, TypeVar

import orjson
from aiohttp import web

from bot.errors import Invalid, NotFound

INT32_MAX = 2**31 - 1  # the database's integer ids
MAX_PAGE = 1_000_000
E = TypeVar("E", bound=StrEnum)


class BadParameter(Invalid):
    """A query parameter a route cannot use (400, unlike a bad body field's 422)."""

    status_kind = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__("bad_parameter", message)


def integer(
    request: web.Request, name: str, default: int, low: int = 1, high: int = INT32_MAX
) -> int:
    """An integer query parameter within [low, high]; absent or empty gives ``default``."""
    raw = request.query.get(name, "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.lstrip("-").isdigit()) or len(raw) > 12:
        raise BadParameter(f"{name} 应为 {low} 到 {high} 之间的整数")
    value = int(raw)
    if not low <= value <= high:
        raise BadParameter(f"{name} 应为 {low} 到 {high} 之间的整数")
    return value


def paging(request: web.Request, per_page: int = 20, max_per_page: int = 100) -> tuple[int, int]:
    """``(page, per_page)`` from ``?page=&per_page=``; offsets always fit the database."""
    return (
        integer(request, "page", 1, 1, MAX_PAGE),
        integer(request, "per_page", per_page, 1, max_per_page),
    )


def path_id(request: web.Request, name: str = "id", what: str = "记录") -> int:
    """An integer id from the path; one that cannot exist is simply not found."""
    raw = request.match_info.get(name, "")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10 or not 1 <= int(raw) <= INT32_MAX:
        raise NotFound("not_found", f"没有这个{what}")
    return int(raw)


def path_key(request: web.Request, name: str, what: str, max_length: int = 64) -> str:
    """A text key from the path (an openid…); one no row can have is simply not found."""
    raw = request.match_info.get(name, "")
    if not raw or len(raw) > max_length or not raw.isprintable():
        raise NotFound("not_found", f"没有这个{what}")
    return raw


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object (empty body: ``{}``); anything else is a 400."""
    try:
        data = orjson.loads(await request.read() or b"{}")
    except orjson.JSONDecodeError:
        raise BadParameter("请求体不是有效的 JSON") from None
    if not isinstance(data, dict):
        raise BadParameter("请求体应为 JSON 对象")
    return data


def choice(request: web.Request, name: str, options: type[E]) -> E | None:
    """One of an enumeration's values, or None when absent; anything else is a 400."""
    raw = request.query.get(name, "")
    if not raw:
        return None
    try:
        return options(raw)
    except ValueError:
        allowed = "、".join(o.value for o in options)
        raise BadParameter(f"{name} 应为以下之一：{allowed}") from None


def date(request: web.Request, name: str) -> dt.date | None:
    raw = request.query.get(name, "")
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise BadParameter(f"{name} 应为日期 YYYY-MM-DD") from None


@web.middleware
async def refuse_nul(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """No route takes a NUL byte in its path or query (no text field can hold one)."""
    if "\x00" in request.path or any(
        "\x00" in key or "\x00" in value for key, value in request.query.items()
    ):
        raise BadParameter("地址中含有无效字符")
    return await handler(request)
