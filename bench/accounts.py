"""What staff accounts cost: a log-in's password check, audit appends, the chain check.

    python bench/accounts.py [--entries 100000] [--db sqlite|postgres]

Prints the time of one argon2id verify (each log-in pays one), the longest
event-loop stall while eight log-ins are checked at once, audit entries appended per second one at a time and concurrently
(the chain serialises writers), and how long ``verify`` takes over the
whole trail.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import audit, db  # noqa: E402
from bot.accounts import passwords  # noqa: E402
from bot.models import AuditEntry  # noqa: E402

PG = "postgres://postgres@127.0.0.1:5432"
WHO = audit.Actor("李编辑", "editor", "10.0.0.7")


def password_costs() -> None:
    hashes = [passwords.hash_password("Qingshan-2024-test") for _ in range(3)]
    verify = []
    for h in hashes * 3:
        start = time.perf_counter()
        passwords.verify(h, "Qingshan-2024-test")
        verify.append(time.perf_counter() - start)
    print(f"argon2id verify (one log-in): median {statistics.median(verify) * 1000:.0f} ms")


async def login_lag() -> None:
    """The longest the event loop stalls while 8 log-ins are checked at once, beside idle."""
    h = passwords.hash_password("Qingshan-2024-test")
    idle = await _stall(asyncio.sleep(2))
    start = time.perf_counter()
    checks = asyncio.gather(*(passwords.verify_off_loop(h, "Qingshan-2024-test") for _ in range(8)))
    busy = await _stall(checks)
    took = time.perf_counter() - start
    print(f"8 concurrent log-in checks: {took:.2f} s in all; longest event-loop stall "
          f"{busy * 1000:.0f} ms (idle machine noise: {idle * 1000:.0f} ms)")  # fmt: skip


async def _stall(work: Any) -> float:
    lag, done = 0.0, asyncio.Event()

    async def tick() -> None:
        nonlocal lag
        while not done.is_set():
            start = time.perf_counter()
            await asyncio.sleep(0.005)
            lag = max(lag, time.perf_counter() - start - 0.005)

    ticker = asyncio.create_task(tick())
    await work
    done.set()
    await ticker
    return lag


async def appends(entries: int) -> None:
    start = time.perf_counter()
    for i in range(200):
        await audit.record(WHO, "policy.update", "policy", f"p-{i}", n=i)
    serial = 200 / (time.perf_counter() - start)
    start = time.perf_counter()
    await asyncio.gather(*(audit.record(WHO, "policy.update", "policy", i) for i in range(200)))
    concurrent = 200 / (time.perf_counter() - start)
    print(
        f"audit.record: {serial:.0f}/s one at a time, {concurrent:.0f}/s with 200 concurrent writers"
    )
    rows = [AuditEntry(actor=WHO.name, role=WHO.role, address=WHO.address, action="x.act",
                       object_type="x", object_id=str(i), detail={"n": i})
            for i in range(entries - 400)]  # fmt: skip
    start = time.perf_counter()
    await audit.record_many(rows)
    print(f"audit.record_many: {len(rows)} entries in {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    result = await audit.verify()
    took = time.perf_counter() - start
    print(f"audit.verify: {result.checked} entries in {took:.1f} s "
          f"({result.checked / took:,.0f}/s), ok={result.ok}")  # fmt: skip


async def run(entries: int, backend: str) -> None:
    password_costs()
    if backend == "postgres":
        name = f"policybot_bench_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect(f"{PG}/postgres")
        await conn.execute(f"CREATE DATABASE {name}")
        await conn.close()
        url = f"{PG}/{name}"
    else:
        url = f"sqlite://{tempfile.mkdtemp()}/bench.sqlite3"
    try:
        async with db.database(url):
            await login_lag()
            await appends(entries)
    finally:
        if backend == "postgres":
            conn = await asyncpg.connect(f"{PG}/postgres")
            await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    print(f"backend: {args.db}")
    asyncio.run(run(args.entries, args.db))


if __name__ == "__main__":
    main()
