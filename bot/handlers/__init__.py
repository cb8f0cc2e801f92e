"""The resident chat pipeline: every message, from the callback or from
``policybot ask``, goes through ``handle``.

Routers are included here, in priority order: commands first, the keyword
search last (it takes any other text).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cache

from bot import metrics
from bot.db import Statement
from bot.handlers.router import Dispatcher
from bot.handlers.types import Context, Incoming, Reply, TextReply
from bot.models import Subscriber
from bot.services import Services

log = logging.getLogger("bot.handlers")

SORRY = "抱歉，系统暂时繁忙，请稍后再试。急事请拨打 12345 政务服务便民热线。"

# Messages that open WeChat's 48-hour customer-service window.
_ACTIVE_KINDS = {
    "text",
    "image",
    "voice",
    "video",
    "shortvideo",
    "location",
    "link",
    "click",
    "subscribe",
}


@cache
def dispatcher() -> Dispatcher:
    from bot.handlers import (
        basics,
        binding,
        contact,
        eligibility,
        feedback,
        menu,
        participation,
        reach,
        search,
        smalltalk,
        subscriptions,
    )

    return Dispatcher(
        [
            reach.router,
            subscriptions.router,
            feedback.router,
            participation.router,
            binding.router,
            contact.router,
            basics.router,
            menu.router,
            eligibility.router,
            smalltalk.router,
            search.router,
        ]
    )


async def handle(services: Services, message: Incoming) -> tuple[str, Reply | None]:
    """Run one message through the routers; a handler's failure becomes a polite reply."""
    now = datetime.now(UTC)
    start = time.perf_counter()
    route = "none"
    message = as_text(message)
    try:
        if message.kind in _ACTIVE_KINDS:
            await _touch(services.recently_active, message.openid, now)
        routers = dispatcher()
        context = Context(services, message, now, dispatch=routers.dispatch)
        route, reply = await routers.dispatch(message, context)
        if route == "none":
            reply = TextReply("暂不支持这类消息。发送“帮助”查看可用功能。")
    except Exception:
        log.exception("handler failed", extra={"route": route, "kind": message.kind})
        route, reply = f"{route}:error", TextReply(SORRY)
    metrics.REPLIES.labels(handler=route).inc()
    metrics.HANDLER_SECONDS.labels(handler=route).observe(time.perf_counter() - start)
    return route, reply


def as_text(message: Incoming) -> Incoming:
    """A voice message WeChat recognised is answered as the text it is; the
    full stop speech recognition adds would otherwise spoil commands (“订阅救助。”)."""
    if message.kind == "voice" and message.text:
        return replace(message, kind="text", text=message.text.rstrip("。．.！!？? "))
    return message


_TOUCH = Statement("UPDATE subscriber SET last_active_at = {} WHERE openid = {}")
TOUCH_EVERY = timedelta(minutes=1)  # a minute's staleness is nothing against a 48-hour window


async def _touch(seen: OrderedDict[str, datetime], openid: str, now: datetime) -> None:
    """Remember the resident's last activity (the customer-service window starts here).

    A resident who writes several messages in a row costs one write a minute, not one each.
    """
    last = seen.get(openid)
    if last is not None and now - last < TOUCH_EVERY:
        return
    seen[openid] = now
    seen.move_to_end(openid)
    if len(seen) > 10_000:
        seen.popitem(last=False)
    if not await _TOUCH.run(now, openid):
        await Subscriber.get_or_create(
            openid=openid, defaults={"last_active_at": now, "followed_at": now}
        )
