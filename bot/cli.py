"""``policybot``: serve, ask, content, followers, push, fake-wechat.

Subsystems register their own subcommands (``add_parser``); this module only
loads settings, sets up logging and turns a bad config into one clear line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from bot.catalog import cli as catalog_cli
from bot.config import ConfigError, Settings, load_settings
from bot.logs import setup_logging
from bot.push import cli as push_cli


def settings_from(args: argparse.Namespace, quiet: bool = False) -> Settings:
    """Load settings and set up logging; one-shot commands log only warnings and errors."""
    settings = load_settings(args.config)
    level = settings.log.level
    if quiet and level == "INFO":
        level = "WARNING"
    setup_logging(level, settings.log.format == "json")
    return settings


def run(coro: Coroutine[Any, Any, int | None]) -> int:
    return asyncio.run(coro) or 0


# -- serve -------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    settings = settings_from(args)
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
    from bot.push.runtime import push_runtime
    from bot.services import open_services

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with open_services(settings) as services, push_runtime(services):
        print("推送进程已启动（按 Ctrl+C 停止）", file=sys.stderr)
        await stop.wait()
    return 0


# -- ask ---------------------------------------------------------------------


def cmd_ask(args: argparse.Namespace) -> int:
    settings = settings_from(args, quiet=True)
    return run(_ask(settings, args.text, args.user))


async def _ask(settings: Settings, text: str, openid: str) -> int:
    from datetime import UTC, datetime

    from bot.handlers import handle
    from bot.handlers.types import Incoming, NewsReply, TextReply
    from bot.services import open_services

    async with open_services(settings, sync_content=settings.content.sync_on_start) as services:
        message = Incoming(
            kind="text", openid=openid, created_at=datetime.now(UTC), text=text.strip()
        )
        _, reply = await handle(services, message)
    if isinstance(reply, TextReply):
        print(reply.text)
    elif isinstance(reply, NewsReply):
        print(f"{reply.article.title}\n{reply.article.description}\n{reply.article.url}")
    return 0


# -- fake-wechat -------------------------------------------------------------


def cmd_fake_wechat(args: argparse.Namespace) -> int:
    from bot.wechat.fake import FakeConfig, run_fake

    config = FakeConfig(
        appid=args.appid,
        secret=args.secret,
        followers=args.followers,
        error_rate=args.error_rate,
        token_ttl=args.token_ttl,
        latency_ms=args.latency_ms,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_fake(args.host, args.port, config))
    return 0


# -- parser ------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="policybot", description="政策在线：政策发布、问答与精准推送"
    )
    parser.add_argument(
        "-c", "--config", type=Path, default=None, help="TOML 配置文件（默认 ./config.toml）"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="启动服务")
    serve.add_argument("--role", choices=["all", "web", "worker"], default="all")
    serve.set_defaults(func=cmd_serve)

    ask = sub.add_parser("ask", help="像居民发消息一样提问，打印回复")
    ask.add_argument("text")
    ask.add_argument("--user", default="cli-user", help="居民 openid")
    ask.set_defaults(func=cmd_ask)

    fake = sub.add_parser("fake-wechat", help="启动本地微信接口模拟服务（测试、演示用）")
    fake.add_argument("--host", default="127.0.0.1")
    fake.add_argument("--port", type=int, default=8081)
    fake.add_argument("--appid", default="wx-demo-appid")
    fake.add_argument("--secret", default="demo-secret")
    fake.add_argument("--followers", type=int, default=100, help="生成的关注者数量")
    fake.add_argument("--error-rate", type=float, default=0.0, help="随机返回 -1（系统繁忙）的比例")
    fake.add_argument("--token-ttl", type=float, default=7200, help="access_token 有效秒数")
    fake.add_argument("--latency-ms", type=float, default=0.0)
    fake.set_defaults(func=cmd_fake_wechat)

    catalog_cli.add_parser(sub)
    push_cli.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"配置错误：{exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
