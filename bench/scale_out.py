"""Callback throughput of ``policybot serve --role web --workers N`` on PostgreSQL +
Redis (issue 13 item 4): 1 process, then N on the same port (SO_REUSEPORT), each
run against a fresh database; then WeChat's retries across the processes: every
message sent twice at once must get one reply and one side effect (留言 rows).

    python bench/scale_out.py                        # 1 vs 2 processes, 2000 messages
    python bench/scale_out.py --workers 2 --messages 3000 --concurrency 32

The load generator runs on the same machine (2 cores here), so it competes with
the servers: it is ``wrk`` (Debian's package) when installed, cycling through
pre-signed messages with a Lua script and costing a few per cent of what the
servers spend, else the aiohttp client of ``bench/callback.py`` (as costly as
a server: the ratio is then a floor). What residents send: the gold set's
queries, as in ``bench/callback.py``, or ``--text``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from callback import (
    AES_KEY,
    APPID,
    ROOT,
    TOKEN,
    build_requests,
    free_port,
    gold_queries,
    load,
    pct,
    wait_up,
)
from scratch import scratch


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


def unique(texts: str | list[str], count: int) -> list[tuple[dict[str, str], bytes]]:
    """Messages whose MsgIds no earlier run (or another engineer's bench) used."""
    return build_requests(count, texts, base=random.randrange(10**17, 10**18))


# wrk sends the pre-signed messages of a file in turn, one per request.
WRK_SCRIPT = """
local requests, i = {}, 0
for line in io.lines(os.getenv("BENCH_REQUESTS")) do
  local path, body = line:match("([^\t]+)\t(.*)")
  local headers = {["Host"] = "127.0.0.1", ["Content-Type"] = "text/xml"}
  requests[#requests + 1] = wrk.format("POST", path, headers, body)
end
request = function()
  i = i % #requests + 1
  return requests[i]
end
"""
WRK_SECONDS = 8


def _stat(pid: str) -> tuple[str, int, float] | None:
    """A process's name, parent and CPU seconds so far (None: gone)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name, rest = raw[raw.index("(") + 1 : raw.rindex(")")], raw[raw.rindex(")") + 2 :].split()
    return name, int(rest[1]), (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def cpu_by_role(server: int) -> dict[str, float]:
    """CPU seconds so far of the web processes (``server`` and its children), PostgreSQL and Redis."""
    out = {"web": 0.0, "postgres+redis": 0.0}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        stat = _stat(pid)
        if stat is None:
            continue
        name, parent, cpu = stat
        if int(pid) == server or parent == server:
            out["web"] += cpu
        elif name in ("postgres", "redis-server"):
            out["postgres+redis"] += cpu
    return out


async def wrk_load(
    target: str, requests: list[tuple[dict[str, str], bytes]], concurrency: int, tmp: str
) -> tuple[float, float, float, int]:
    """Messages per second, p50 and p99 in ms, and non-200 answers, as wrk measured them."""
    from urllib.parse import urlencode, urlsplit

    path = urlsplit(target).path
    lines = [f"{path}?{urlencode(q)}\t{body.decode().replace(chr(10), '')}" for q, body in requests]
    listing, script = Path(tmp, "requests.tsv"), Path(tmp, "send.lua")
    listing.write_text("\n".join(lines) + "\n", encoding="utf-8")
    script.write_text(WRK_SCRIPT, encoding="utf-8")
    done = await asyncio.create_subprocess_exec(
        "wrk", "-t1", f"-c{concurrency}", f"-d{WRK_SECONDS}s", "--latency", "-s", str(script), target,
        env=dict(os.environ, BENCH_REQUESTS=str(listing)),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out = (await done.communicate())[0].decode()

    def ms(label: str) -> float:
        value = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out)
        assert value, out
        return float(value[1]) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[value[2]]

    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    sent = int(re.search(r"(\d+) requests in", out)[1])  # type: ignore[index]
    if sent > len(requests):
        print(f"  ({sent} requests from a list of {len(requests)}: some were repeats)")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rate, ms("50%"), ms("99%"), int(bad[1]) if bad else 0


async def one(workers: int, args: argparse.Namespace, tmp: str) -> dict[str, float]:
    async with scratch("postgres") as (_work, url):
        port = free_port()
        proc = await serve(workers, url, port, f"{tmp}/index-{workers}")
        try:
            target = f"http://127.0.0.1:{port}/wechat"
            await load(target, unique(args.texts, 300), args.concurrency)  # warm-up
            measured = unique(args.texts, args.messages)
            before, started = cpu_by_role(proc.pid), time.monotonic()
            if shutil.which("wrk"):
                rate, p50, p99, errors = await wrk_load(target, measured, args.concurrency, tmp)
            else:
                elapsed, lat, errors = await load(target, measured, args.concurrency)
                rate, p50, p99 = len(lat) / elapsed, pct(lat, 50), pct(lat, 99)
            wall, after = time.monotonic() - started, cpu_by_role(proc.pid)
            cores = {role: (after[role] - before[role]) / wall for role in before}
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
                retried = await conn.fetchval(
                    "SELECT COUNT(*) FROM feedback WHERE text = '扩容重试'"
                )
                await conn.close()
            return {
                "rate": rate,
                "p50": p50,
                "p99": p99,
                "errors": errors,
                "retried": retried,
                "web_cores": cores["web"],
                "db_cores": cores["postgres+redis"],
            }
        finally:
            proc.terminate()
            proc.wait(timeout=30)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--messages", type=int, default=30000, help="messages signed for the run (wrk: 8 s)"
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--retries", type=int, default=100, help="messages sent twice at once (N>1)"
    )
    parser.add_argument("--text", help="send only this; default: the gold set's queries")
    args = parser.parse_args()
    args.texts = [args.text] if args.text else gold_queries()
    random.Random(13).shuffle(args.texts)
    tmp = tempfile.mkdtemp(prefix="bench-scale-")
    generator = "wrk" if shutil.which("wrk") else "aiohttp client"
    print(
        f"{args.messages} encrypted text messages ({len(args.texts)} different texts), "
        f"concurrency {args.concurrency}, PostgreSQL + Redis, load generator ({generator}) "
        f"on the same {os.cpu_count()}-core machine"
    )
    print(
        f"{'processes':<11}{'msg/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
        f"{'web cores':>11}{'PG+Redis':>10}  retries"
    )
    results = {}
    for workers in (1, args.workers):
        r = results[workers] = await one(workers, args, tmp)
        retry = (
            f"{args.retries} sent twice each -> {r['retried']} 留言 rows" if workers > 1 else "-"
        )
        print(
            f"{workers:<11}{r['rate']:>9.0f}{r['p50']:>9.1f}{r['p99']:>9.1f}{r['errors']:>8.0f}"
            f"{r['web_cores']:>11.2f}{r['db_cores']:>10.2f}  {retry}",
            flush=True,
        )
    n, one_run = results[args.workers], results[1]
    print(f"ratio {args.workers} processes / 1: {n['rate'] / one_run['rate']:.2f}")
    print(
        f"messages per web-process CPU-second: {one_run['rate'] / one_run['web_cores']:.0f} "
        f"(1 process), {n['rate'] / n['web_cores']:.0f} ({args.workers}): the cores the web "
        "processes could use bound the ratio (PostgreSQL, Redis and wrk share the machine)"
    )


if __name__ == "__main__":
    asyncio.run(main())
