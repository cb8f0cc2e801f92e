"""Writes on the chat's hot path that nobody reads for seconds, made together.

A reply kept for WeChat's retries (which come 5 s later), a resident's
“更多” position and the count of a query nothing answered are written for
every message; one statement each cost more CPU than the rest of a reply.
Here each write is kept under its key (the last write of a key wins, so a
key's writes never reorder) and all are made every ``every`` seconds in one
transaction, one ``executemany`` per statement. ``Batched`` does the same for
look-ups: those asked at the same moment share one statement.

The process that deferred a write reads it back through ``pending``; other
processes see it at most ``every`` seconds later. A flush that fails keeps its
writes for the next one (newer writes of the same key win); ``close`` makes
what is left before the database closes. ``immediate`` writes at once, in the
caller's transaction (``policybot ask`` rolls its trial back).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from tortoise.transactions import in_transaction

from bot import outage
from bot.db import Statement

log = logging.getLogger("bot.db")

EVERY = 0.05  # seconds a deferred write waits at most
RETRY = 1.0  # seconds before a failed flush is tried again
# Seconds a look-up waits for others to share its statement: nothing beside WeChat's 5 s,
# and under load (when CPU counts) it gathers the messages of a millisecond into one.
WINDOW = 0.001

Key = tuple[str, str]  # (what, which): ("handled_message", key), ("more_results", openid)
K = TypeVar("K")
V = TypeVar("V")
Merge = Callable[[tuple[Any, ...], tuple[Any, ...]], tuple[Any, ...]]


class DeferredWrites:
    def __init__(self, every: float = EVERY, immediate: bool = False) -> None:
        self.every = every
        self.immediate = immediate
        self._pending: dict[Key, tuple[Statement, tuple[Any, ...]]] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._closing = False

    async def put(
        self, key: Key, statement: Statement, *args: Any, merge: Merge | None = None
    ) -> None:
        """Write ``args`` with ``statement`` soon; ``merge`` folds a write of ``key`` still
        pending into this one (a counter adds up) instead of this one replacing it."""
        if self.immediate:
            await statement.run(*args)
            return
        earlier = self._pending.get(key)
        if merge is not None and earlier is not None and earlier[0] is statement:
            args = merge(earlier[1], args)
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


class Batched(Generic[K, V]):
    """Lookups made concurrently share one statement.

    Under load many messages reach the same question (is this message new? is this
    resident in a 政策体检?) within a millisecond (``window``); ``fetch`` answers all
    their keys, up to ``MOST`` at a time, in one round trip.
    """

    MOST = 200  # keys per statement: well inside every driver's limit on parameters

    def __init__(
        self,
        fetch: Callable[[list[K]], Awaitable[dict[K, V]]],
        shared: bool,
        window: float = WINDOW,
    ) -> None:
        self.fetch = fetch
        self.shared = shared
        self.window = window
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: dict[K, list[asyncio.Future[V | None]]] = {}
        self._running: set[asyncio.Task[None]] = set()

    async def get(self, key: K) -> V | None:
        """``fetch``'s answer for ``key``; None when it has none. A key asked twice in one
        batch: every asker gets the answer if ``shared``, else only the first (a claim)."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (tests run one each)
            self._loop, self._waiting = loop, {}
        future: asyncio.Future[V | None] = loop.create_future()
        if not self._waiting:
            loop.call_later(self.window, self._start)
        self._waiting.setdefault(key, []).append(future)
        return await future

    def _start(self) -> None:
        waiting, self._waiting = list(self._waiting.items()), {}
        for start in range(0, len(waiting), self.MOST):
            task = asyncio.ensure_future(self._answer(dict(waiting[start : start + self.MOST])))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _answer(self, waiting: dict[K, list[asyncio.Future[V | None]]]) -> None:
        try:
            found = await self.fetch(list(waiting))
        except Exception as exc:
            for futures in waiting.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(exc)
            return
        for key, (first, *later) in waiting.items():
            if not first.done():
                first.set_result(found.get(key))
            for future in later:
                if not future.done():
                    future.set_result(found.get(key) if self.shared else None)


@functools.lru_cache(maxsize=256)
def repeated(head: str, group: str, count: int, tail: str = "") -> Statement:
    """A statement with ``group`` ``count`` times (``IN ({}, {})``, ``VALUES (…), (…)``),
    made once per count."""
    return Statement(head + ", ".join([group] * count) + tail)
