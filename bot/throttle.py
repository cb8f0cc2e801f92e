"""Fixed-window counters shared by every process: Redis when configured, else
the database (``RateCounter``), one round trip per count.

Used to slow down guessing of admin tokens per address and to cap how often
one resident may leave a 留言. A window is ``seconds`` long and aligned to the
clock, so every process agrees on which window it is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tortoise import connections

from bot.models import RateCounter

if TYPE_CHECKING:
    from redis.asyncio import Redis

PREFIX = "policybot:rate:"
PURGE_EVERY = 300.0  # seconds between clean-ups of expired database counters
_last_purge = 0.0


@dataclass(frozen=True)
class Window:
    """The count so far in the current window and the seconds until it ends."""

    count: int
    retry_after: int


def _slot(key: str, seconds: int, now: float) -> tuple[str, int, int]:
    number = int(now // seconds)
    ends = (number + 1) * seconds
    return f"{key}:{seconds}:{number}", ends, max(1, int(ends - now))


async def hit(redis: Redis | None, key: str, seconds: int) -> Window:
    """Count one event for ``key`` in the current window of ``seconds``."""
    now = time.time()
    slot, ends, retry = _slot(key, seconds, now)
    if redis is not None:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.incr(PREFIX + slot)
            pipe.expire(PREFIX + slot, seconds + 1)
            count, _ = await pipe.execute()
        return Window(int(count), retry)
    conn = connections.get("default")
    ph = ("$1", "$2") if conn.capabilities.dialect == "postgres" else ("?", "?")
    rows = await conn.execute_query_dict(
        f"INSERT INTO rate_counter (key, count, expires) VALUES ({ph[0]}, 1, {ph[1]}) "
        "ON CONFLICT (key) DO UPDATE SET count = rate_counter.count + 1 RETURNING count",
        [slot, ends],
    )
    await _purge(now)
    return Window(int(rows[0]["count"]), retry)


async def peek(redis: Redis | None, key: str, seconds: int) -> Window:
    """The count for ``key`` in the current window, without counting."""
    now = time.time()
    slot, _, retry = _slot(key, seconds, now)
    if redis is not None:
        value = await redis.get(PREFIX + slot)
        return Window(int(value or 0), retry)
    row = await RateCounter.get_or_none(key=slot)
    return Window(row.count if row else 0, retry)


async def _purge(now: float) -> None:
    global _last_purge
    if now - _last_purge < PURGE_EVERY:
        return
    _last_purge = now
    await RateCounter.filter(expires__lt=int(now)).delete()
