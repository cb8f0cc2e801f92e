"""Database set-up: one Tortoise app over SQLite (embedded default) or
PostgreSQL (production), with the schema applied from committed migrations.

``tortoise makemigrations`` (Tortoise ORM's own migration tool, wrapped by
``scripts/remake-migrations``) writes ``bot/migrations``; ``init_database``
applies any pending ones at start-up.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tortoise import Tortoise, connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.migrations.api import migrate

log = logging.getLogger("bot.db")

MODEL_MODULES = [
    "bot.models",
    "bot.catalog.models",
    "bot.push.models",
    "bot.search.models",
    "bot.participation.models",
    "bot.accounts.models",
    "bot.eligibility.models",
    "bot.contacts.models",
]


class StorageError(Exception):
    """The database cannot be opened or written; one line naming the path and the reason."""


def check_storage(url: str) -> None:
    """Fail at once, with one line, when a SQLite file or its folder cannot be written.

    SQLite writes the file and, in WAL mode, ``-wal`` and ``-shm`` files beside it; without
    this check an unwritable folder surfaces later (or never: the open can hang).
    """
    if not url.startswith("sqlite://"):
        return
    raw = url[len("sqlite://") :]
    if not raw or raw == ":memory:":
        return
    path = Path(raw).expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab"):
            pass
        probe = path.with_name(f".{path.name}.probe-{os.getpid()}")
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise StorageError(
            f"database.url: cannot write {exc.filename or path}: {exc.strerror or exc}"
        ) from None


def tortoise_url(url: str) -> str:
    """Map the contract's URL forms onto Tortoise's (postgres:// → asyncpg)."""
    if url.startswith("sqlite://"):
        check_storage(url)
        return url
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "asyncpg://" + url[len(prefix) :]
    return url


def tortoise_config(url: str) -> dict[str, Any]:
    return {
        "connections": {"default": tortoise_url(url)},
        "apps": {
            "models": {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": "bot.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


# The tortoise CLI reads this (``tortoise -c bot.db.TORTOISE_ORM makemigrations``).
TORTOISE_ORM = tortoise_config("sqlite://./data/migrations.sqlite3")


def is_postgres(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://", "asyncpg://"))


async def init_database(url: str) -> None:
    """Apply pending migrations, then connect the ORM."""
    config = tortoise_config(url)
    # Tortoise caches SQL per connection *name*; a process that reopens "default" on
    # another backend (the test suite does) must not reuse the other dialect's SQL.
    EXECUTOR_CACHE.clear()
    try:
        await migrate(config=config)
    finally:
        await Tortoise.close_connections()
    await Tortoise.init(config=config)
    if url.startswith("sqlite://"):
        conn = connections.get("default")
        # WAL lets the web and worker processes read while one writes.
        await conn.execute_script(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;"
        )


async def close_database() -> None:
    await Tortoise.close_connections()


@asynccontextmanager
async def database(url: str) -> AsyncIterator[None]:
    await init_database(url)
    try:
        yield
    finally:
        await close_database()


async def ping() -> None:
    """Raise if the database cannot answer a trivial query."""
    await connections.get("default").execute_query("SELECT 1")


class Statement:
    """A hot-path SQL statement written once, for both dialects.

    Building a statement through the ORM's query builder costs more CPU than running
    it (profile in the README's start-up section): the few statements every chat
    message runs are written here instead. ``{}`` marks each parameter, in order.
    """

    def __init__(self, template: str) -> None:
        self.template = template
        self._sql: dict[str, str] = {}

    def _prepared(self) -> tuple[BaseDBAsyncClient, str]:
        conn = connections.get("default")  # the transaction's, inside ``in_transaction``
        dialect = conn.capabilities.dialect
        sql = self._sql.get(dialect)
        if sql is None:
            count = self.template.count("{}")
            marks = (
                [f"${i}" for i in range(1, count + 1)] if dialect == "postgres" else ["?"] * count
            )
            sql = self._sql[dialect] = self.template.format(*marks)
        return conn, sql

    async def rows(self, *args: Any) -> list[dict[str, Any]]:
        conn, sql = self._prepared()
        return await conn.execute_query_dict(sql, list(args))

    async def run(self, *args: Any) -> int:
        """Execute; the number of rows changed."""
        conn, sql = self._prepared()
        changed, _ = await conn.execute_query(sql, list(args))
        return changed

    async def run_many(self, rows: list[tuple[Any, ...]]) -> None:
        """Execute once per row of parameters, in one round trip where the driver can."""
        conn, sql = self._prepared()
        await conn.execute_many(sql, [list(row) for row in rows])
