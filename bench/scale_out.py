"""Callback throughput of ``policybot serve --role web --workers N`` on PostgreSQL +
Redis (issue 13 item 4): 1 process, then N on the same port (SO_REUSEPORT), each
run against a fresh database; then WeChat's retries across the processes: every
message sent twice at once must get one reply and one side effect (留言 rows).

    python bench/scale_out.py                        # 1 vs 2 processes, 2000 messages
    python bench/scale_out.py --workers 2 --messages 3000 --concurrency 32

The load generator runs on the same machine (2 cores here), so it competes with
the servers: the ratio is a floor for what separate load would show.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import aiohttp
import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from callback import AES_KEY, APPID, ROOT, TOKEN, build_requests, free_port, load, pct, wait_up

PG = "postgres://postgres@127.0.0.1:5432"


async def serve(workers: int, url: str, port: int, index_dir: str) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        POLICYBOT_SERVER_PORT=str(port),
        POLICYBOT_DATABASE_URL=url,
        POLICYBOT_REDIS_URL="redis://127.0.0.1:6379/0",
        POLICYBOT_WECHAT_TOKEN=TOKEN,
        POLICYBOT_WECHAT_ENCODING_AES_KEY=AES_KEY,
        POLICYBOT_WECHAT_APPID=APPID,
        POLICYBOT_WECHAT_SECRET="x",
        POLICYBOT_CONTENT_DIR=str(ROOT / "content"),
        POLICYBOT_LOG_LEVEL="WARNING",
        POLICYBOT_SEARCH_INDEX_DIR=index_dir,
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--role", "web", "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    await wait_up(f"http://127.0.0.1:{port}/wechat", timeout=180)
    await asyncio.sleep(3 if workers > 1 else 0)  # the others start once the first listens
    return proc


async def database() -> tuple[str, str]:
    name = f"policybot_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(f"{PG}/postgres")
    await conn.execute(f"CREATE DATABASE {name}")
    await conn.close()
    return f"{PG}/{name}", name


async def drop(name: str) -> None:
    conn = await asyncpg.connect(f"{PG}/postgres")
    await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    await conn.close()


def unique(text: str, count: int) -> list[tuple[dict[str, str], bytes]]:
    """Messages whose MsgIds no earlier run (or another engineer's bench) used."""
    return build_requests(count, text, base=random.randrange(10**17, 10**18))


async def one(workers: int, args: argparse.Namespace, tmp: str) -> dict[str, float]:
    url, name = await database()
    port = free_port()
    proc = await serve(workers, url, port, f"{tmp}/index-{workers}")
    try:
        target = f"http://127.0.0.1:{port}/wechat"
        await load(target, unique(args.text, 300), args.concurrency)  # warm-up
        elapsed, lat, errors = await load(
            target, unique(args.text, args.messages), args.concurrency
        )
        retried = 0
        if workers > 1:
            sent = unique("留言 扩容重试", args.retries)
            doubled = [r for r in sent for _ in range(2)]
            # Each retry on a connection of its own, so the kernel may give it to either process.
            async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(force_close=True)
            ) as http:

                async def post(query: dict[str, str], body: bytes) -> bytes:
                    async with http.post(target, params=query, data=body) as resp:
                        return await resp.read()

                await asyncio.gather(*(post(q, b) for q, b in doubled))
            conn = await asyncpg.connect(url)
            retried = await conn.fetchval("SELECT COUNT(*) FROM feedback WHERE text = '扩容重试'")
            await conn.close()
        return {
            "rate": len(lat) / elapsed,
            "p50": pct(lat, 50),
            "p99": pct(lat, 99),
            "errors": errors,
            "retried": retried,
        }
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        await drop(name)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--retries", type=int, default=100, help="messages sent twice at once (N>1)"
    )
    parser.add_argument("--text", default="帮助")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-scale-")
    print(
        f"{args.messages} encrypted text messages ({args.text!r}), concurrency {args.concurrency},"
        f" PostgreSQL + Redis, load generator on the same {os.cpu_count()}-core machine"
    )
    print(f"{'processes':<11}{'msg/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}  retries")
    results = {}
    for workers in (1, args.workers):
        r = results[workers] = await one(workers, args, tmp)
        retry = (
            f"{args.retries} sent twice each -> {r['retried']} 留言 rows" if workers > 1 else "-"
        )
        print(
            f"{workers:<11}{r['rate']:>9.0f}{r['p50']:>9.1f}{r['p99']:>9.1f}{r['errors']:>8.0f}  {retry}",
            flush=True,
        )
    print(
        f"ratio {args.workers} processes / 1: {results[args.workers]['rate'] / results[1]['rate']:.2f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
