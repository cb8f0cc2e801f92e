"""Chat tests feed residents' messages through the real pipeline (``bot.handlers.handle``)."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.handlers import handle
from bot.handlers.types import Incoming, NewsReply, Reply, TextReply
from bot.services import Services

OPENID = "o-resident-chat"


async def ask(
    services: Services, text: str, openid: str = OPENID, kind: str = "text", **raw: str
) -> tuple[str, Reply]:
    """The route and reply for one message; every reply must fit WeChat's limits."""
    message = Incoming(
        kind=kind, openid=openid, created_at=datetime.now(UTC), text=text, raw=dict(raw)
    )
    route, reply = await handle(services, message)
    assert reply is not None, f"{text!r}: no reply ({route})"
    if isinstance(reply, TextReply):
        assert len(reply.text.encode("utf-8")) < 2048
    else:
        assert isinstance(reply, NewsReply)
    return route, reply


async def say(services: Services, text: str, openid: str = OPENID) -> str:
    route, reply = await ask(services, text, openid)
    assert isinstance(reply, TextReply), f"{text!r} answered with {reply!r} ({route})"
    return reply.text
