"""Callback throughput and latency: encrypted text messages through
``policybot serve`` pinned to one core, beside a bare aiohttp handler (same
core) that only decrypts and re-encrypts, measured in the same run.

    python bench/callback.py [--messages 3000] [--concurrency 16] [--text 帮助] [--profile FILE]
                             [--db sqlite|postgres]

Besides messages per second (which depend on whatever else the machine runs) it
prints replies per CPU-second of each server, read from /proc, and their ratio.
``--profile`` then records a py-spy profile of ``policybot serve`` under the
same load (folded stacks; ``bench/profile_top.py FILE`` sums them by function).

The load generator runs on the other core. Every message has its own MsgId,
so the service does its full work (de-duplication row, handler, reply).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import aiohttp
import asyncpg
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APPID = "wxbenchappid000001"
PG = "postgres://postgres@127.0.0.1:5432"

BARE_SERVER = f"""
import sys
from aiohttp import web
from wechatpy.crypto import WeChatCrypto
crypto = WeChatCrypto({TOKEN!r}, {AES_KEY!r}, {APPID!r})
async def handle(request):
    q = request.query
    plain = crypto.decrypt_message(await request.read(), q["msg_signature"], q["timestamp"], q["nonce"])
    return web.Response(text=crypto.encrypt_message(plain, q["nonce"]), content_type="application/xml")
app = web.Application()
app.router.add_post("/wechat", handle)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a server on core 0 (taskset when available)."""
    prefix = ["taskset", "-c", "0"] if os.path.exists("/usr/bin/taskset") else []
    return subprocess.Popen(
        prefix + cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


async def wait_up(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.post(url, data=b"") as resp:
                    if resp.status in (200, 400, 403, 500):
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not start")


_msg_ids = itertools.count(8_000_000_000_000_000_000)


def build_requests(
    n: int, text: str, base: int | None = None
) -> list[tuple[dict[str, str], bytes]]:
    """``n`` signed, encrypted messages; MsgIds from ``base`` on, or never used before in this run."""
    crypto = WeChatCrypto(TOKEN, AES_KEY, APPID)
    out = []
    for i in range(n):
        ts, nonce = str(int(time.time())), str(100000 + i)
        xml = (
            "<xml><ToUserName><![CDATA[gh_bench]]></ToUserName>"
            f"<FromUserName><![CDATA[o-bench-{i % 500:04d}]]></FromUserName>"
            f"<CreateTime>{ts}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{text}]]></Content><MsgId>{base + i if base is not None else next(_msg_ids)}</MsgId></xml>"
        )
        envelope = crypto.encrypt_message(xml, nonce, ts)
        signer = WeChatSigner()
        signer.add_data(TOKEN, ts, nonce)
        query = {
            "signature": signer.signature,
            "timestamp": ts,
            "nonce": nonce,
            "encrypt_type": "aes",
            "msg_signature": ET.fromstring(envelope).findtext("MsgSignature") or "",
        }
        out.append((query, envelope.encode()))
    return out


async def load(
    url: str, requests: list[tuple[dict[str, str], bytes]], concurrency: int
) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    errors = 0
    queue = iter(requests)

    async def worker(http: aiohttp.ClientSession) -> None:
        nonlocal errors
        for query, body in queue:
            t0 = time.perf_counter()
            async with http.post(url, params=query, data=body) as resp:
                await resp.read()
                if resp.status != 200:
                    errors += 1
            latencies.append(time.perf_counter() - t0)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        start = time.perf_counter()
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return elapsed, latencies, errors


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (robust to other load on the machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--profile", help="also record a py-spy profile (raw, folded) to FILE")
    parser.add_argument(
        "--text", default="帮助", help="what residents send (帮助, or a query such as 低保怎么申请)"
    )
    args = parser.parse_args()
    if os.path.exists("/usr/bin/taskset"):
        os.sched_setaffinity(0, {1})  # the load generator stays off the servers' core

    tmp = tempfile.mkdtemp(prefix="bench-callback-")
    database = f"sqlite://{tmp}/bench.sqlite3"
    if args.db == "postgres":
        pg_name = f"bench_callback_{os.getpid()}"
        admin = await asyncpg.connect(f"{PG}/postgres")
        await admin.execute(f"CREATE DATABASE {pg_name}")
        await admin.close()
        database = f"{PG}/{pg_name}"
    service_port, bare_port = free_port(), free_port()
    env = dict(
        os.environ,
        POLICYBOT_SERVER_PORT=str(service_port),
        POLICYBOT_DATABASE_URL=database,
        POLICYBOT_WECHAT_TOKEN=TOKEN,
        POLICYBOT_WECHAT_ENCODING_AES_KEY=AES_KEY,
        POLICYBOT_WECHAT_APPID=APPID,
        POLICYBOT_WECHAT_SECRET="x",
        POLICYBOT_CONTENT_DIR=str(ROOT / "content"),
        POLICYBOT_LOG_LEVEL="WARNING",
    )
    servers = [
        pinned([sys.executable, "-m", "bot", "serve", "--role", "web"], env),
        pinned([sys.executable, "-c", BARE_SERVER, str(bare_port)]),
    ]
    try:
        service_url = f"http://127.0.0.1:{service_port}/wechat"
        bare_url = f"http://127.0.0.1:{bare_port}/wechat"
        await wait_up(service_url)
        await wait_up(bare_url)
        requests = build_requests(args.messages, args.text)
        await load(service_url, build_requests(200, args.text), args.concurrency)  # warm-up
        print(
            f"{args.messages} encrypted text messages ({args.text!r}), concurrency {args.concurrency}, servers on one core, {args.db}"
        )
        print(
            f"{'server':<28}{'msg/s':>10}{'msg/CPU-s':>11}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}"
        )
        per_cpu = {}
        for name, url, proc in (
            ("bare decrypt+encrypt", bare_url, servers[1]),
            ("policybot serve", service_url, servers[0]),
        ):
            cpu = cpu_seconds(proc.pid)
            elapsed, lat, errors = await load(url, requests, args.concurrency)
            per_cpu[name] = len(lat) / (cpu_seconds(proc.pid) - cpu)
            print(
                f"{name:<28}{len(lat) / elapsed:>10.0f}{per_cpu[name]:>11.0f}"
                f"{pct(lat, 50):>10.1f}{pct(lat, 99):>10.1f}{errors:>8}"
            )
            print(f"{'':<28}(mean {statistics.mean(lat) * 1000:.1f} ms)")
        ratio = per_cpu["policybot serve"] / per_cpu["bare decrypt+encrypt"]
        print(f"policybot serve / bare floor, replies per CPU-second: {ratio:.2f}")
        if args.profile:
            print(f"profiling policybot serve with py-spy into {args.profile} …")
            spy = subprocess.Popen(
                [
                    "py-spy",
                    "record",
                    "--gil",
                    "--rate",
                    "500",
                    "-p",
                    str(servers[0].pid),
                    "-o",
                    args.profile,
                    "-f",
                    "raw",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            await asyncio.sleep(1)
            await load(service_url, build_requests(args.messages, args.text), args.concurrency)
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
    finally:
        for proc in servers:
            proc.terminate()
            proc.wait(timeout=10)
        if args.db == "postgres":
            admin = await asyncpg.connect(f"{PG}/postgres")
            await admin.execute(f"DROP DATABASE IF EXISTS {pg_name} WITH (FORCE)")
            await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
