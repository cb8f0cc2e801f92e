"""JSON errors for JSON routes: ``{"error": {"code", "message"}}``, never a stack trace."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

log = logging.getLogger("bot.http")

_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 413: "too_large", 422: "invalid", 503: "unavailable"}


def json_error(status: int, message: str, code: str | None = None) -> web.Response:
    return web.json_response(
        {"error": {"code": code or _CODES.get(status, "error"), "message": message}}, status=status
    )


@web.middleware
async def json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Turn HTTP errors and crashes on /api/ routes into JSON; pages keep aiohttp's own."""
    if not request.path.startswith("/api/"):
        return await handler(request)
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return json_error(exc.status, exc.reason if not exc.text or exc.text.startswith(str(exc.status)) else exc.text)
    except Exception:
        log.exception("unhandled error", extra={"path": request.path})
        return json_error(500, "服务器内部错误，请稍后再试", "internal")
