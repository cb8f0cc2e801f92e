"""``policybot ask``: a resident's message through the same pipeline, reply printed.

A trial leaves nothing behind: the message is handled inside a database
transaction that is rolled back, so no resident, subscription or 留言 is
created and no audience ever counts the asker.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bot.cli.common import run, settings_from
from bot.config import Settings


class _Discard(Exception):
    """Raised to roll the trial's transaction back."""


def cmd_ask(args: argparse.Namespace) -> int:
    settings = settings_from(args, quiet=True)
    return run(_ask(settings, args.text, args.user))


async def _ask(settings: Settings, text: str, openid: str) -> int:
    from datetime import UTC, datetime

    from tortoise.transactions import in_transaction

    from bot.handlers import handle
    from bot.handlers.types import Incoming, NewsReply, Reply, TextReply
    from bot.services import open_services

    reply: Reply | None = None
    async with open_services(
        settings, sync_content=settings.content.sync_on_start, defer_writes=False
    ) as services:
        message = Incoming(
            kind="text", openid=openid, created_at=datetime.now(UTC), text=text.strip()
        )
        try:
            async with in_transaction():
                _, reply = await handle(services, message)
                raise _Discard
        except _Discard:
            pass
    if isinstance(reply, TextReply):
        print(reply.text)
    elif isinstance(reply, NewsReply):
        print(f"{reply.article.title}\n{reply.article.description}\n{reply.article.url}")
    print("（试运行：未保存任何更改）", file=sys.stderr)
    return 0


def add_parser(subparsers: Any) -> None:
    ask = subparsers.add_parser("ask", help="像居民发消息一样提问，打印回复（不保存任何更改）")
    ask.add_argument("text")
    ask.add_argument("--user", default="cli-user", help="以哪个居民 openid 的身份提问")
    ask.set_defaults(func=cmd_ask)
