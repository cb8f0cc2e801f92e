"""JSON errors for JSON routes: ``{"error": {"code", "message"}}``, never a stack trace.

Handlers raise ``api_error(...)`` (an aiohttp HTTP exception whose body is
already the JSON error) or let a domain refusal (``bot.errors.DomainError``)
through; this module is the one place that maps refusals to statuses, and the
middleware turns every other HTTP error and any crash on an /api/ route into
the same shape. Pages get the same statuses as an error page. A storage
outage (``bot.outage``) is a 503, a value the database cannot take a 400, and
crashes are logged without a traceback storm.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.web_exceptions import HTTPError

from bot import outage
from bot.errors import DomainError
from bot.web.responses import dumps

log = logging.getLogger("bot.http")

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid",
    429: "too_many_requests",
    503: "unavailable",
}
STATUS_OF_KIND = {
    "bad_request": 400,
    "invalid": 422,
    "not_found": 404,
    "conflict": 409,
    "forbidden": 403,
    "unavailable": 503,
}
_MESSAGES = {404: "没有这个地址", 405: "不支持该请求方法", 413: "请求内容过大"}
_CLASSES: dict[int, type[HTTPError]] = {
    cls.status_code: cls
    for cls in vars(web).values()
    if isinstance(cls, type) and issubclass(cls, HTTPError) and hasattr(cls, "status_code")
}


def _body(status: int, message: str, code: str | None) -> str:
    error = {"code": code or _CODES.get(status, "error"), "message": message}
    return dumps({"error": error})


def status_of(exc: DomainError) -> int:
    """The HTTP status of a domain refusal."""
    return STATUS_OF_KIND[exc.status_kind]


def json_error(status: int, message: str, code: str | None = None) -> web.Response:
    return web.Response(
        text=_body(status, message, code), status=status, content_type="application/json"
    )


def api_error(
    status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None
) -> HTTPError:
    """An exception to ``raise`` from a JSON handler; its body is the JSON error."""
    cls = _CLASSES.get(status, web.HTTPBadRequest)
    return cls(text=_body(status, message, code), content_type="application/json", headers=headers)


UNAVAILABLE = "系统暂时无法访问，请稍后再试"


def _failure(exc: Exception) -> tuple[int, str, str]:
    """Status, message and code for a crash: an outage, a bad value, or a bug."""
    if outage.is_outage(exc):
        return 503, UNAVAILABLE, "unavailable"
    if outage.is_bad_value(exc):
        return 400, "请求中含有无法处理的值", "bad_request"
    return 500, "服务器内部错误，请稍后再试", "internal"


def _page(request: web.Request, status: int, message: str) -> web.Response:
    from bot.web.modes import render_page

    title = {404: "未找到", 503: "暂时无法访问"}.get(status, "出错了")
    return render_page(request, "error.html", status=status, title=title, message=message)


@web.middleware
async def json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Turn refusals, HTTP errors and crashes into JSON on /api/ routes, error pages elsewhere."""
    api = request.path.startswith("/api/")
    try:
        return await handler(request)
    except DomainError as exc:
        if api:
            return json_error(status_of(exc), exc.message, exc.code)
        return _page(request, status_of(exc), exc.message)
    except web.HTTPException as exc:
        if not api or exc.status < 400 or exc.content_type == "application/json":
            raise
        text = exc.text or ""
        message = _MESSAGES.get(exc.status) or (
            exc.reason if not text or text.startswith(str(exc.status)) else text
        )
        return json_error(exc.status, message)
    except Exception as exc:
        status, message, code = _failure(exc)
        if status >= 500:
            outage.log_failure(log, "request failed", exc)
        if api:
            return json_error(status, message, code)
        return _page(request, status, message)
