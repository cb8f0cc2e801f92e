"""The route table, and nothing else."""

from __future__ import annotations

from aiohttp import web

from bot.web import ops
from bot.web.keys import SETTINGS
from bot.wechat import callback


def setup_routes(app: web.Application) -> None:
    path = app[SETTINGS].wechat.callback_path
    app.router.add_get(path, callback.verify, name="wechat_verify")
    app.router.add_post(path, callback.receive, name="wechat_receive")
    app.router.add_get("/healthz", ops.healthz, name="healthz")
    app.router.add_get("/metrics", ops.prometheus, name="metrics")
