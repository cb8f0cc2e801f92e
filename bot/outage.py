"""Storage faults: telling a database (or Redis) that is down, full or read-only
from a bug, and logging them without a traceback storm.

Drivers raise their own types, and Tortoise wraps some of them, so the whole
exception chain is examined. During an outage every request fails the same
way: the first failure of a kind is logged with its traceback, the others are
counted and summarised at most once every ``QUIET_SECONDS``.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator

import asyncpg
from redis import exceptions as redis_errors

QUIET_SECONDS = 60.0

# asyncpg's errors for a server that is gone, refusing, read-only or out of space.
_PG_OUTAGE = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,  # e.g. a connection closed under a query
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.ReadOnlySQLTransactionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.ObjectNotInPrerequisiteStateError,
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
)
_PG_INPUT = (asyncpg.exceptions.DataError,)  # a value the database cannot take (NUL, out of range)
_SQLITE_OUTAGE = ("locked", "disk", "readonly", "unable to open", "no such table", "i/o")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [current.__cause__, current.__context__]
        todo += [a for a in current.args if isinstance(a, BaseException)]  # Tortoise wraps so


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` says the storage cannot serve (not that a request was bad)."""
    for e in _chain(exc):
        if isinstance(e, _PG_OUTAGE):
            return True
        if isinstance(e, sqlite3.DatabaseError):
            text = str(e).lower()
            if any(word in text for word in _SQLITE_OUTAGE):
                return True
        if isinstance(e, OSError | TimeoutError):
            return True
    return False


def is_bad_value(exc: BaseException) -> bool:
    """True when the database refused a value it cannot store or compare (a client's fault)."""
    return any(isinstance(e, _PG_INPUT) for e in _chain(exc))


class _Quiet:
    """Per kind of failure: when it was last logged and how many were not."""

    def __init__(self) -> None:
        self.last: dict[str, float] = {}
        self.suppressed: dict[str, int] = {}

    def log(self, logger: logging.Logger, what: str, exc: BaseException) -> None:
        kind = f"{logger.name}:{what}:{type(exc).__name__}"
        now = time.monotonic()
        if now - self.last.get(kind, -QUIET_SECONDS) < QUIET_SECONDS:
            self.suppressed[kind] = self.suppressed.get(kind, 0) + 1
            return
        self.last[kind] = now
        extra = {
            "error": type(exc).__name__,
            "outage": is_outage(exc),
            "suppressed": self.suppressed.pop(kind, 0),  # same failures not logged since the last
        }
        logger.error(what, exc_info=exc, extra=extra)


_QUIET = _Quiet()


def log_failure(logger: logging.Logger, what: str, exc: BaseException) -> None:
    """Log a failure at most once per ``QUIET_SECONDS`` per kind, with the count of the rest."""
    _QUIET.log(logger, what, exc)
