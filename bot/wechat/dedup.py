"""De-duplication of WeChat's retries across processes.

WeChat re-sends a message it got no answer for (three tries, 5 s apart).
The first process to claim a message's key handles it and stores the reply;
a retry, in this process or another, gets the stored reply and causes no
side effect. The claim lives in the database (``HandledMessage``) or, when
configured, in Redis; both are shared by every process.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.db import Statement
from bot.deferred import Batched, DeferredWrites, repeated
from bot.models import HandledMessage

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("bot.callback")

KEEP = timedelta(days=1)  # far longer than WeChat's 15 s of retries, short enough to stay small
STALE = timedelta(seconds=30)  # a claim never finished (crashed process) is taken over after this
_PENDING = ""

# The hot path's statements (``bot.db.Statement``: no query builder per message).
_FINISH = Statement("UPDATE handled_message SET reply = {} WHERE key = {}")


async def _claim_new(asked: list[tuple[str, datetime]]) -> dict[tuple[str, datetime], bool]:
    """Claim, in one statement, the keys no one has claimed yet: those are True."""
    first = dict(reversed(asked))  # a key asked twice in one batch: its first asking
    claim = repeated(
        "INSERT INTO handled_message (key, reply, created_at) VALUES ",
        "({}, NULL, {})",
        len(first),
        " ON CONFLICT (key) DO NOTHING RETURNING key",
    )
    rows = await claim.rows(*(value for pair in first.items() for value in pair))
    return {(row["key"], first[row["key"]]): True for row in rows}


@dataclass(frozen=True)
class Claim:
    """``first`` is true for the process that must handle the message."""

    first: bool
    reply: dict[str, Any] | None = None
    done: bool = False


class Deduplicator:
    def __init__(
        self,
        redis: Redis | None = None,
        prefix: str = "policybot:msg:",
        keep: timedelta = KEEP,
        writes: DeferredWrites | None = None,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.keep = keep
        # A stored reply is read only by a retry, 5 s later: it is written with others.
        self.writes = writes or DeferredWrites(immediate=True)
        self._claims: Batched[tuple[str, datetime], bool] = Batched(_claim_new, shared=False)

    @staticmethod
    def keep_for(window_seconds: int) -> timedelta:
        """How long a key must live so that no replay the time window accepts can outlive it.

        A message is taken while its ``CreateTime`` is within the window of now, so it can
        come back until twice the window after it was first seen.
        """
        return max(KEEP, timedelta(seconds=2 * window_seconds + 60))

    async def claim(self, key: str, now: datetime | None = None) -> Claim:
        now = now or datetime.now(UTC)
        if self.redis is not None:
            return await self._claim_redis(key)
        if await self._claims.get((key, now)):
            return Claim(first=True)
        row = await HandledMessage.get_or_none(key=key)
        if row is None:  # removed by the clean-up in between: treat as new
            return await self.claim(key, now)
        if row.reply is None and (mine := self.writes.pending(("handled_message", key))):
            row.reply = mine[1][0]  # handled here a moment ago, reply not written yet
        if row.reply is not None:
            return Claim(first=False, reply=json.loads(row.reply), done=True)
        if now - row.created_at > STALE:
            taken = await HandledMessage.filter(key=key, created_at=row.created_at).update(
                created_at=now
            )
            if taken:
                log.warning("taking over a stale message claim", extra={"key": key})
                return Claim(first=True)
        return Claim(first=False)

    async def _claim_redis(self, key: str) -> Claim:
        assert self.redis is not None
        rkey = self.prefix + key
        if await self.redis.set(rkey, _PENDING, nx=True, ex=int(STALE.total_seconds())):
            return Claim(first=True)
        value = await self.redis.get(rkey)
        if value is None:
            return await self._claim_redis(key)
        if value == _PENDING:
            return Claim(first=False)
        return Claim(first=False, reply=json.loads(value), done=True)

    async def finish(self, key: str, reply: dict[str, Any] | None) -> None:
        text = json.dumps(reply, ensure_ascii=False)
        if self.redis is not None:
            await self.redis.set(self.prefix + key, text, ex=int(self.keep.total_seconds()))
        else:
            await self.writes.put(("handled_message", key), _FINISH, text, key)

    async def wait(self, key: str, timeout: float) -> Claim:
        """Wait for another handler of the same message to store its reply."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            await asyncio.sleep(0.1)
            claim = await self.claim(key)
            if claim.done or claim.first:
                return claim
        return Claim(first=False)

    async def forget(self, key: str) -> None:
        """Release a claim whose handling failed, so WeChat's retry can try again."""
        if self.redis is not None:
            await self.redis.delete(self.prefix + key)
        else:
            await HandledMessage.filter(key=key, reply__isnull=True).delete()

    async def purge(self, now: datetime | None = None) -> int:
        """Drop database claims older than ``keep`` (Redis expires its own)."""
        cutoff = (now or datetime.now(UTC)) - self.keep
        return await HandledMessage.filter(created_at__lt=cutoff).delete()
