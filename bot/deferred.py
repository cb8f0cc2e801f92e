"""Writes on the chat's hot path that nobody reads for seconds, made together.

A reply kept for WeChat's retries (which come 5 s later) and a resident's
“更多” position are written for every message; one statement each cost more
CPU than the rest of a reply. Here each write is kept under its key (the last
write of a key wins, so a key's writes never reorder) and all are made every
``every`` seconds in one transaction, one ``executemany`` per statement.

The process that deferred a write reads it back through ``pending``; other
processes see it at most ``every`` seconds later. A flush that fails keeps its
writes for the next one (newer writes of the same key win); ``close`` makes
what is left before the database closes. ``immediate`` writes at once, in the
caller's transaction (``policybot ask`` rolls its trial back).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from tortoise.transactions import in_transaction

from bot import outage
from bot.db import Statement

log = logging.getLogger("bot.db")

EVERY = 0.05  # seconds a deferred write waits at most
RETRY = 1.0  # seconds before a failed flush is tried again

Key = tuple[str, str]  # (what, which): ("handled_message", key), ("more_results", openid)


class DeferredWrites:
    def __init__(self, every: float = EVERY, immediate: bool = False) -> None:
        self.every = every
        self.immediate = immediate
        self._pending: dict[Key, tuple[Statement, tuple[Any, ...]]] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._closing = False

    async def put(self, key: Key, statement: Statement, *args: Any) -> None:
        if self.immediate:
            await statement.run(*args)
            return
        self._pending[key] = (statement, args)
        self._schedule(self.every)

    def pending(self, key: Key) -> tuple[Statement, tuple[Any, ...]] | None:
        """This process's write of ``key`` not made yet, if any."""
        return self._pending.get(key)

    def _schedule(self, delay: float) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(
                self._flush_after(delay), name="deferred-writes"
            )

    async def _flush_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        await self.flush()

    async def flush(self) -> bool:
        """Make every pending write now; False (writes kept) if the database refused."""
        batch, self._pending = self._pending, {}
        if not batch:
            return True
        groups: dict[Statement, list[tuple[Any, ...]]] = {}
        for statement, args in batch.values():
            groups.setdefault(statement, []).append(args)
        try:
            async with in_transaction():
                for statement, rows in groups.items():
                    await statement.run_many(rows)
        except Exception as exc:
            outage.log_failure(log, "deferred writes failed; kept for the next try", exc)
            for key, write in batch.items():
                self._pending.setdefault(key, write)
            if not self._closing:
                self._flusher = None
                self._schedule(RETRY)
            return False
        return True

    async def close(self) -> None:
        """Make what is pending (a flush under way finishes first)."""
        self._closing = True
        if self._flusher is not None:
            with contextlib.suppress(Exception):
                await self._flusher
        await self.flush()
