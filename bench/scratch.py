"""A benchmark's scratch database: a SQLite file in a temporary folder, or a
PostgreSQL database of its own on this machine's server; both gone afterwards."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

PG = "postgres://postgres@127.0.0.1:5432"


@asynccontextmanager
async def scratch(
    backend: str, prefix: str = "policybot-bench-"
) -> AsyncIterator[tuple[Path, str]]:
    """A temporary folder and a database URL of ``backend`` (sqlite or postgres)."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    name = f"policybot_bench_{uuid.uuid4().hex[:8]}"
    if backend == "postgres":
        conn = await asyncpg.connect(f"{PG}/postgres")
        await conn.execute(f"CREATE DATABASE {name}")
        await conn.close()
    try:
        yield work, f"{PG}/{name}" if backend == "postgres" else f"sqlite://{work}/bench.sqlite3"
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if backend == "postgres":
            conn = await asyncpg.connect(f"{PG}/postgres")
            await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            await conn.close()
