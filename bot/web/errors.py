"""JSON errors for JSON routes: ``{"error": {"code", "message"}}``, never a stack trace.

Handlers raise ``api_error(...)`` (an aiohttp HTTP exception whose body is
already the JSON error) or let a domain refusal (``bot.errors.DomainError``)
through; this module is the one place that maps refusals to statuses, and the
middleware turns every other HTTP error and any crash on an /api/ route into
the same shape.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.web_exceptions import HTTPError

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


@web.middleware
async def json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Turn HTTP errors and crashes on /api/ routes into JSON; pages keep their own."""
    if not request.path.startswith("/api/"):
        return await handler(request)
    try:
        return await handler(request)
    except DomainError as exc:
        return json_error(status_of(exc), exc.message, exc.code)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        text = exc.text or ""
        message = _MESSAGES.get(exc.status) or (
            exc.reason if not text or text.startswith(str(exc.status)) else text
        )
        return json_error(exc.status, message)
    except Exception:
        log.exception("unhandled error", extra={"path": request.path})
        return json_error(500, "服务器内部错误，请稍后再试", "internal")
