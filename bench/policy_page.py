"""How fast the policy page (related policies, attachments) and the list's search answer.

    python bench/policy_page.py [--policies 10000] [--db sqlite|postgres] [--requests 200]

Generates N policies over five topics and six areas (bench/sync.py's
generator, so each topic holds about N/5 policies), syncs them, serves the
app on loopback and times GET /policies/{id} and GET /policies?q=… one
request at a time; prints p50/p95/max in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from scratch import scratch  # noqa: E402
from sync import generate  # noqa: E402

from bot import db  # noqa: E402
from bot.app import create_app  # noqa: E402
from bot.catalog.sync import sync_content  # noqa: E402
from bot.config import Settings  # noqa: E402


async def _timed(client: TestClient, paths: list[str]) -> list[float]:
    out = []
    for path in paths:
        started = time.perf_counter()
        response = await client.get(path)
        await response.read()
        assert response.status == 200, (path, response.status)
        out.append((time.perf_counter() - started) * 1000)
    return out


def _line(label: str, ms: list[float]) -> str:
    p95 = statistics.quantiles(ms, n=20)[-1]
    return f"{label}: p50 {statistics.median(ms):.1f} ms, p95 {p95:.1f} ms, max {max(ms):.1f} ms"


async def run(count: int, backend: str, requests: int) -> None:
    async with scratch(backend) as (work, url):
        content = work / "content"
        content.mkdir()
        generate(content, count)
        async with db.database(url):
            await sync_content(content)
        settings = Settings.model_validate(
            {"database": {"url": url}, "content": {"dir": str(content), "sync_on_start": False},
             "log": {"format": "text", "level": "WARNING"}}
        )  # fmt: skip
        app = create_app(settings, role="web")
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            step = max(1, count // requests)
            pages = [f"/policies/bench-{n:05d}" for n in range(0, count, step)][:requests]
            await _timed(client, pages[:10])  # warm up
            print(f"{backend}, {count} policies, {len(pages)} requests each")
            print(
                _line(
                    "  GET /policies/{id} (related by topic and area)", await _timed(client, pages)
                )
            )
            lists = [f"/policies?page={1 + n % 50}" for n in range(len(pages))]
            print(
                _line(
                    "  GET /policies?page=… (no search, for comparison)",
                    await _timed(client, lists),
                )
            )
            queries = [f"/policies?q=第{n}项惠民政策" for n in range(len(pages))]
            print(_line("  GET /policies?q=… (search index)", await _timed(client, queries)))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--policies", type=int, default=10_000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(run(args.policies, args.db, args.requests))


if __name__ == "__main__":
    main()
