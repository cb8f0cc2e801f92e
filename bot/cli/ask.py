"""``policybot ask``: a resident's message through the same pipeline, reply printed."""

from __future__ import annotations

import argparse
from typing import Any

from bot.cli.common import run, settings_from
from bot.config import Settings


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


def add_parser(subparsers: Any) -> None:
    ask = subparsers.add_parser("ask", help="像居民发消息一样提问，打印回复")
    ask.add_argument("text")
    ask.add_argument("--user", default="cli-user", help="居民 openid")
    ask.set_defaults(func=cmd_ask)
