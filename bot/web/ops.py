"""Operations endpoints and the per-request log line and metrics.

``/healthz`` writes as well as reads, so a full disk or a read-only database
is unhealthy. ``/metrics`` is not public: on the public app it needs
``server.metrics_token``; ``server.metrics_listen`` serves it alone on a
separate (internal) address instead.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot import db, metrics, outage, throttle
from bot.keys import ROLE, SETTINGS
from bot.web.responses import json_response

log = logging.getLogger("bot.http")


async def healthz(request: web.Request) -> web.Response:
    """Liveness with a database read and a write: 503 when either fails."""
    try:
        await db.ping()
    except Exception as exc:  # any driver error means "not healthy", which is the answer
        outage.log_failure(log, "health check failed: database unreachable", exc)
        return json_response({"status": "error", "database": "unreachable"}, status=503)
    try:
        await throttle.hit(None, "healthz", 60)  # one upserted row: a real, cheap write
    except Exception as exc:
        outage.log_failure(log, "health check failed: database cannot write", exc)
        return json_response({"status": "error", "database": "read-only"}, status=503)
    return json_response({"status": "ok", "database": "ok", "role": request.app[ROLE]})


async def prometheus(request: web.Request) -> web.Response:
    """Metrics for the scraper; on the public app only with ``server.metrics_token``."""
    token = request.app[SETTINGS].server.metrics_token.get_secret_value()
    if not request.app.get(METRICS_ONLY):
        presented = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not token or not hmac.compare_digest(presented.encode(), token.encode()):
            raise web.HTTPNotFound()
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


METRICS_ONLY = web.AppKey("metrics_only", bool)


async def metrics_listener(app: web.Application) -> AsyncIterator[None]:
    """Serve ``/metrics`` alone on ``server.metrics_listen`` (host:port), when set."""
    settings = app[SETTINGS]
    listen = settings.server.metrics_listen
    if not listen:
        yield
        return
    host, _, port = listen.rpartition(":")
    internal = web.Application()
    internal[SETTINGS] = settings
    internal[METRICS_ONLY] = True
    internal.router.add_get("/metrics", prometheus)
    runner = web.AppRunner(internal, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host.strip("[]") or "127.0.0.1", int(port)).start()
    log.info("metrics listening", extra={"listen": listen})
    yield
    await runner.cleanup()


CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: https:; media-src 'self' https:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Every response (pages, JSON, static files, errors): no framing, no sniffing, no
    inline script, no banner. Runs as ``on_response_prepare``, after aiohttp adds ``Server``."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.popall("Server", None)


@web.middleware
async def observe(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """One structured log line and two metrics per request; never the body or query values."""
    start = time.perf_counter()
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        elapsed = time.perf_counter() - start
        metrics.REQUESTS.labels(route, request.method, str(status)).inc()
        metrics.REQUEST_SECONDS.labels(route).observe(elapsed)
        log.info(
            "request",
            extra={
                "method": request.method,
                "route": route,
                "status": status,
                "ms": round(elapsed * 1000, 1),
            },
        )
