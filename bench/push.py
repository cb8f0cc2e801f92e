"""Benchmark: one template campaign to many residents through ``policybot fake-wechat``.

Prints messages per second against the configured ceiling (target: at least
90% of it at 1,000/s), database time per delivery, and the worker's memory
(resident set before the send and its peak during it: it must not grow with
the audience). Not a test: run it by hand.

    python bench/push.py                          # 100,000 residents, 1,000/s, SQLite
    python bench/push.py --db postgres            # the same on the local PostgreSQL
    python bench/push.py --residents 10000        # compare memory with a smaller audience
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg
from tortoise.expressions import Q

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import db  # noqa: E402
from bot.catalog.models import Topic  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.models import Subscriber, Subscription  # noqa: E402
from bot.push import campaigns  # noqa: E402
from bot.push.campaigns import Actor  # noqa: E402
from bot.push.delivery import DeliveryEngine, Outcome  # noqa: E402
from bot.push.models import (  # noqa: E402
    Campaign,
    CampaignRun,
    CampaignState,
    Delivery,
    DeliveryState,
    RunState,
)
from bot.push.runtime import push_runtime  # noqa: E402
from bot.services import open_services  # noqa: E402

APPID, SECRET = "wxbenchappid00001", "bench-secret"
PG = "postgres://postgres@127.0.0.1:5432"


def rss_kib(field: str = "VmRSS") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(url) as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up")
            await asyncio.sleep(0.2)


async def fake_state(url: str) -> dict:
    async with aiohttp.ClientSession() as http, http.get(url + "_fake/state") as resp:
        return await resp.json()


async def seed(n: int) -> None:
    await Topic.create(id="relief", name="救助", aliases=["低保"])
    now = datetime.now(UTC)
    for start in range(0, n, 5000):
        ids = [f"o-fake-{i:06d}" for i in range(start + 1, min(n, start + 5000) + 1)]
        await Subscriber.bulk_create(
            [Subscriber(openid=o, following=True, followed_at=now) for o in ids]
        )
        await Subscription.bulk_create(
            [Subscription(subscriber_id=o, topic_id="relief") for o in ids]
        )


async def isolated_db_time(engine: DeliveryEngine, campaign_id: int, n: int, batch: int) -> float:
    """Seconds per delivery for the database work alone: claim a batch, record it sent."""
    run = await CampaignRun.create(campaign_id=campaign_id, kind="bench", scheduled_for=datetime.now(UTC),
                                   state=RunState.done, materialized=True)  # fmt: skip
    for start in range(0, n, 5000):
        await Delivery.bulk_create([
            Delivery(run_id=run.id, campaign_id=campaign_id, openid=f"o-bench-{i:06d}")
            for i in range(start, min(n, start + 5000))
        ])  # fmt: skip
    started = time.perf_counter()
    done = 0
    while True:
        items = await engine._claim_rows(Q(run_id=run.id), batch, datetime.now(UTC))
        if not items:
            break
        await engine._write([Outcome([i.id for i in items], DeliveryState.sent)])
        done += len(items)
    return (time.perf_counter() - started) / max(1, done)


async def main(args: argparse.Namespace) -> None:
    port = free_port()
    fake = subprocess.Popen(
        [sys.executable, "-m", "bot", "fake-wechat", "--port", str(port), "--appid", APPID,
         "--secret", SECRET, "--followers", str(args.residents)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
    )  # fmt: skip
    fake_url = f"http://127.0.0.1:{port}/"
    tmp = tempfile.mkdtemp(prefix="policybot-bench-")
    if args.db == "postgres":
        name = f"policybot_bench_{os.getpid()}"
        conn = await asyncpg.connect(f"{PG}/postgres")
        await conn.execute(f"CREATE DATABASE {name}")
        await conn.close()
        url = f"{PG}/{name}"
    else:
        url = f"sqlite://{tmp}/bench.sqlite3"
    settings = Settings.model_validate({
        "database": {"url": url},
        "wechat": {"appid": APPID, "secret": SECRET, "api_base_url": fake_url, "template_id": "tmpl-bench"},
        "content": {"dir": str(ROOT / "content"), "sync_on_start": False},
        "push": {"rate_per_second": args.rate, "quiet_hours": "", "workers": args.workers,
                 "batch_size": args.batch},
        "log": {"level": "WARNING"},
    })  # fmt: skip
    try:
        await wait_http(fake_url + "_fake/state")
        t0 = time.perf_counter()
        await db.init_database(url)
        await seed(args.residents)
        campaign = await campaigns.create(
            {"title": "低保标准提高", "text": "2025 年起城乡低保标准提高。", "channel": "template",
             "audience": {"topics": ["relief"]}}, Actor("editor", "editor"), settings)  # fmt: skip
        await db.close_database()
        print(
            f"seeded {args.residents:,} residents on {args.db} in {time.perf_counter() - t0:.1f} s"
        )

        async with open_services(settings) as services:
            rss_before = rss_kib()
            peak = rss_before
            await campaigns.approve(campaign.id, Actor("reviewer", "reviewer"))
            started = time.perf_counter()
            cpu_started = time.process_time()
            first = None
            async with push_runtime(services) as runtime:
                engine = runtime.engine
                while True:
                    await asyncio.sleep(0.25)
                    peak = max(peak, rss_kib())
                    sent = engine.stats.outcomes["sent"]
                    if first is None and sent:
                        first = time.perf_counter()
                    if sys.stderr.isatty():
                        print(f"\r  sent {sent:,}/{args.residents:,}", end="", file=sys.stderr)
                    state = (await Campaign.get(id=campaign.id)).state
                    if state in (CampaignState.done, CampaignState.failed):
                        break
                finished = time.perf_counter()
                cpu = time.process_time() - cpu_started
                stats = engine.stats
            if sys.stderr.isatty():
                print(file=sys.stderr)
            counts = await campaigns.counts(await Campaign.get(id=campaign.id))
            db_isolated = await isolated_db_time(
                engine, campaign.id, min(args.residents, 20_000), args.batch
            )
        fake_figures = await fake_state(fake_url)
    finally:
        fake.terminate()
        fake.wait()
        if args.db == "postgres":
            conn = await asyncpg.connect(f"{PG}/postgres")
            await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            await conn.close()

    delivered = counts["sent"]
    send_time = finished - (first or started)
    rate = delivered / send_time if send_time else 0.0
    print(f"campaign: {counts}  state={state.value}")
    print(
        f"WeChat stand-in: delivered={fake_figures['total_delivered']:,} duplicates={fake_figures['duplicates']}"
    )
    print(f"approve → done: {finished - started:.1f} s (includes freezing the audience)")
    print(
        f"throughput: {rate:,.0f} messages/s against a ceiling of {args.rate:,.0f}/s "
        f"= {100 * rate / args.rate:.1f}% (target ≥ 90%)"
    )
    print(
        f"database time per delivery: {1000 * db_isolated:.3f} ms claiming and recording, measured alone; "
        f"{1000 * stats.db_seconds / max(1, delivered):.3f} ms wall time during the send "
        f"(includes waiting behind the audience freeze and the event loop)"
    )
    print(
        f"worker CPU: {cpu:.1f} s over {finished - started:.1f} s ({100 * cpu / (finished - started):.0f}% of a core)"
    )
    print(
        f"memory: RSS {rss_before / 1024:.1f} MiB before the send, peak {peak / 1024:.1f} MiB during it "
        f"(+{(peak - rss_before) / 1024:.1f} MiB)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(parser.parse_args()))
