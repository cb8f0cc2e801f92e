"""The one app factory: ``create_app(settings, role)``.

Long-lived resources are cleanup contexts entered in this order and left in
reverse: services (database, Redis, HTTP session, WeChat API, content, search
index) → callback state → push runtime (scheduler and delivery workers, for
roles ``all`` and ``worker``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from bot.config import Settings
from bot.keys import ROLE, SERVICES, SETTINGS
from bot.services import open_services
from bot.web import ops
from bot.web.audit_trail import record_refusals
from bot.web.auth import throttle_failed_bearer
from bot.web.errors import json_errors
from bot.web.params import refuse_nul
from bot.web.routes import setup_routes
from bot.wechat.callback import callback_ctx

ROLES = ("all", "web", "worker")


def create_app(settings: Settings, role: str = "all") -> web.Application:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    app = web.Application(
        middlewares=[ops.observe, record_refusals, json_errors, throttle_failed_bearer, refuse_nul],
        client_max_size=1024**2,
    )
    app.on_response_prepare.append(ops.security_headers)
    app[SETTINGS] = settings
    app[ROLE] = role

    async def services_ctx(app: web.Application) -> AsyncIterator[None]:
        sync = settings.content.sync_on_start and role in ("all", "web")
        async with open_services(settings, sync_content=sync) as services:
            app[SERVICES] = services
            yield

    async def push_ctx(app: web.Application) -> AsyncIterator[None]:
        from bot.push.runtime import push_runtime

        async with push_runtime(app[SERVICES]):
            yield

    async def outbox_ctx(app: web.Application) -> AsyncIterator[None]:
        from bot.participation.outbox import outbox_worker

        async with outbox_worker(app[SERVICES]):
            yield

    app.cleanup_ctx.append(services_ctx)
    app.cleanup_ctx.append(callback_ctx)
    app.cleanup_ctx.append(ops.metrics_listener)
    if role in ("all", "worker"):
        app.cleanup_ctx.append(push_ctx)
        app.cleanup_ctx.append(outbox_ctx)
    setup_routes(app)
    return app
