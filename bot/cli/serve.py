"""``policybot serve``: the web app and/or the scheduler and delivery workers."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import Any

from bot.cli.common import run, settings_from
from bot.config import Settings, security_warnings
from bot.db import check_storage

log = logging.getLogger("bot.serve")


def cmd_serve(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if args.host is not None or args.port is not None:
        server = settings.server.listening_on(args.host, args.port)
        settings = settings.model_copy(update={"server": server})
    check_storage(settings.database.url)  # one line and exit 1, before anything starts
    for warning in security_warnings(settings, args.role):
        log.warning(warning)
    if args.role == "worker":
        return run(_run_worker(settings))
    from aiohttp import web

    from bot.app import create_app

    web.run_app(
        create_app(settings, role=args.role),
        host=settings.server.host,
        port=settings.server.port,
        access_log=None,
        print=lambda *_: print(
            f"政策在线已启动：监听 {settings.server.host}:{settings.server.port}，"
            f"对外地址 {settings.server.base_url}（角色 {args.role}，按 Ctrl+C 停止）",
            file=sys.stderr,
        ),
    )
    return 0


async def _run_worker(settings: Settings) -> int:
    """The worker role: scheduler and delivery workers, no HTTP server."""
    from bot.participation.outbox import outbox_worker
    from bot.push.runtime import push_runtime
    from bot.services import open_services

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with open_services(settings) as services, push_runtime(services), outbox_worker(services):
        print("推送进程已启动（按 Ctrl+C 停止）", file=sys.stderr)
        await stop.wait()
    return 0


def _port(value: str) -> int:
    port = int(value) if value.isdigit() else 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError("端口应为 1 到 65535 之间的整数")
    return port


def add_parser(subparsers: Any) -> None:
    serve = subparsers.add_parser("serve", help="启动服务")
    serve.add_argument("--role", choices=["all", "web", "worker"], default="all")
    serve.add_argument("--host", help="监听地址（默认 server.host）")
    serve.add_argument("--port", type=_port, help="监听端口（默认 server.port）")
    serve.set_defaults(func=cmd_serve)
