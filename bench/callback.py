"""Callback throughput and latency: encrypted residents' messages through
``policybot serve`` pinned to one core, beside, on the same core and in the
same run, the protocol floor (a bare aiohttp handler that verifies, decrypts,
parses, builds a text reply and encrypts it) and WeRoBot 1.13 answering with a
naive title search.

    python bench/callback.py [--messages 3000] [--concurrency 16] [--text 帮助] [--profile FILE]
                             [--db sqlite|postgres] [--no-werobot]

What residents send: by default the queries of ``tests/search/gold.yaml`` in a
shuffled order, each several times (residents ask the same few hundred things);
``--text`` sends one text only. Besides messages per second (which depend on
whatever else the machine runs) it prints replies per CPU-second of each server,
read from /proc, and the ratios. ``--profile`` then records a py-spy profile of
``policybot serve`` under the same load (folded stacks; ``bench/profile_top.py
FILE`` sums them by function).

WeRoBot is not a dependency of the project: it is installed once into the
benchmark's own virtual environment under ``~/.cache/policybot-bench/``.

The load generator runs on the other core. Every message has its own MsgId,
so the service does its full work (de-duplication row, handler, reply).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import aiohttp
import yaml
from scratch import scratch
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APPID = "wxbenchappid000001"

BARE_SERVER = f"""
import sys, time
import xml.etree.ElementTree as ET
from aiohttp import web
from wechatpy.crypto import WeChatCrypto
crypto = WeChatCrypto({TOKEN!r}, {AES_KEY!r}, {APPID!r})
REPLY = ("<xml><ToUserName><![CDATA[{{}}]]></ToUserName><FromUserName><![CDATA[{{}}]]></FromUserName>"
         "<CreateTime>{{}}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
         "<Content><![CDATA[{{}}]]></Content></xml>")
database = sys.argv[2] if len(sys.argv) > 2 else None  # with one: claim each message in it
claim = None
async def connect(app):
    global claim
    if database is None:
        return
    sql = "INSERT INTO claim (key) VALUES ({{}}) ON CONFLICT (key) DO NOTHING RETURNING key"
    if database.startswith("sqlite://"):
        import aiosqlite
        conn = await aiosqlite.connect(database[len("sqlite://"):], isolation_level=None)
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("CREATE TABLE IF NOT EXISTS claim (key TEXT PRIMARY KEY)")
        claim = lambda key: conn.execute_fetchall(sql.format("?"), (key,))
        app.on_cleanup.append(lambda app: conn.close())
    else:
        import asyncpg
        pool = await asyncpg.create_pool(database, min_size=4, max_size=4)
        await pool.execute("CREATE TABLE IF NOT EXISTS claim (key TEXT PRIMARY KEY)")
        claim = lambda key: pool.fetch(sql.format("$1"), key)
        app.on_cleanup.append(lambda app: pool.close())
async def handle(request):
    q = request.query
    plain = crypto.decrypt_message(await request.read(), q["msg_signature"], q["timestamp"], q["nonce"])
    root = ET.fromstring(plain)
    if claim is not None:
        await claim(root.findtext("MsgId"))
    xml = REPLY.format(root.findtext("FromUserName"), root.findtext("ToUserName"), int(time.time()),
                       root.findtext("Content"))
    return web.Response(text=crypto.encrypt_message(xml, q["nonce"]), content_type="application/xml")
app = web.Application()
app.on_startup.append(connect)
app.router.add_post("/wechat", handle)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""

# WeRoBot as its README shows it, with the titles of the sample policies and a naive search:
# the titles sharing the most two-character pieces with the question.
WEROBOT_SERVER = f"""
import pathlib, sys
import werobot
titles = []
for path in sorted(pathlib.Path(sys.argv[2]).glob("*.md")):
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("title:"):
            titles.append(line[6:].strip())
            break
robot = werobot.WeRoBot(token={TOKEN!r}, encoding_aes_key={AES_KEY!r}, app_id={APPID!r})
@robot.text
def search(message):
    text = message.content
    pieces = {{text[i:i + 2] for i in range(len(text) - 1)}}
    scored = sorted(((sum(p in t for p in pieces), t) for t in titles), reverse=True)[:3]
    found = [t for score, t in scored if score]
    return "\\n".join(found) if found else "没有找到相关政策。"
robot.config["HOST"], robot.config["PORT"] = "127.0.0.1", int(sys.argv[1])
robot.run(enable_pretty_logging=False)
"""
WEROBOT = "WeRoBot[crypto]==1.13.1"
WEROBOT_ENV = Path.home() / ".cache" / "policybot-bench" / "werobot-1.13.1"


def werobot_python() -> Path | None:
    """The benchmark's own environment with WeRoBot in it (made once), or None if it cannot be."""
    python = WEROBOT_ENV / "bin" / "python"
    if not python.exists():
        try:
            subprocess.run([sys.executable, "-m", "venv", str(WEROBOT_ENV)], check=True)
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", WEROBOT], check=True, timeout=600
            )
        except (subprocess.SubprocessError, OSError) as exc:
            print(f"WeRoBot left out: its environment could not be made ({exc})")
            shutil.rmtree(WEROBOT_ENV, ignore_errors=True)
            return None
    return python


def gold_queries() -> list[str]:
    """What residents ask: every query of the gold set (it was written from their words)."""
    entries = yaml.safe_load((ROOT / "tests" / "search" / "gold.yaml").read_text(encoding="utf-8"))
    return [str(e["q"]) for e in entries]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(
    cmd: list[str], env: dict[str, str] | None = None, cwd: str | None = None
) -> subprocess.Popen[bytes]:
    """Start a server on core 0 (taskset when available)."""
    prefix = ["taskset", "-c", "0"] if os.path.exists("/usr/bin/taskset") else []
    return subprocess.Popen(
        prefix + cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
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
    n: int, texts: str | list[str], base: int | None = None
) -> list[tuple[dict[str, str], bytes]]:
    """``n`` signed, encrypted messages saying ``texts`` in turn; MsgIds from ``base`` on,
    or never used before in this run."""
    crypto = WeChatCrypto(TOKEN, AES_KEY, APPID)
    out = []
    said = [texts] if isinstance(texts, str) else texts
    for i in range(n):
        ts, nonce, text = str(int(time.time())), str(100000 + i), said[i % len(said)]
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
    """Send every request, ``concurrency`` at a time: seconds, latencies of the replies, errors."""
    latencies: list[float] = []
    errors = 0
    queue = iter(requests)

    async def worker(http: aiohttp.ClientSession) -> None:
        nonlocal errors
        for query, body in queue:
            t0 = time.perf_counter()
            try:
                async with http.post(url, params=query, data=body) as resp:
                    await resp.read()
                    ok = resp.status == 200
            except aiohttp.ClientError:  # a server with a short listen queue resets connections
                ok = False
            if ok:
                latencies.append(time.perf_counter() - t0)
            else:
                errors += 1

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
        "--text", help="send only this (帮助, 低保怎么申请 …); default: the gold set's queries"
    )
    parser.add_argument("--no-werobot", action="store_true", help="leave WeRoBot out")
    args = parser.parse_args()
    if os.path.exists("/usr/bin/taskset"):
        os.sched_setaffinity(0, {1})  # the load generator stays off the servers' core
    if args.text:
        texts: list[str] = [args.text]
    else:
        texts = gold_queries()
        random.Random(13).shuffle(texts)
    async with scratch(args.db, "bench-callback-") as (work, database):
        claims = database if args.db == "postgres" else f"sqlite://{work}/claims.sqlite3"
        await measure(args, texts, str(work), database, claims)


async def measure(
    args: argparse.Namespace, texts: list[str], tmp: str, database: str, claims: str
) -> None:
    """The servers, started on core 0, each loaded in turn; then the profile if asked."""
    ports = {name: free_port() for name in ("floor", "claim", "werobot", "serve")}
    env = dict(
        os.environ,
        POLICYBOT_SERVER_PORT=str(ports["serve"]),
        POLICYBOT_DATABASE_URL=database,
        POLICYBOT_WECHAT_TOKEN=TOKEN,
        POLICYBOT_WECHAT_ENCODING_AES_KEY=AES_KEY,
        POLICYBOT_WECHAT_APPID=APPID,
        POLICYBOT_WECHAT_SECRET="x",
        POLICYBOT_CONTENT_DIR=str(ROOT / "content"),
        POLICYBOT_SEARCH_INDEX_DIR=f"{tmp}/search-index",
        POLICYBOT_LOG_LEVEL="WARNING",
    )
    servers = {
        "protocol floor (bare aiohttp)": (
            pinned([sys.executable, "-c", BARE_SERVER, str(ports["floor"])]),
            ports["floor"],
        ),
        # What one shared claim per message costs on its own (no ORM, no batching).
        "floor + one claim per message": (
            pinned([sys.executable, "-c", BARE_SERVER, str(ports["claim"]), claims]),
            ports["claim"],
        ),
    }
    python = None if args.no_werobot else werobot_python()
    if python is not None:
        policies = str(ROOT / "content" / "policies")
        servers["WeRoBot 1.13 + title search"] = (
            pinned(  # in the temporary folder: WeRoBot keeps its sessions in ./werobot_session
                [str(python), "-c", WEROBOT_SERVER, str(ports["werobot"]), policies], cwd=tmp
            ),
            ports["werobot"],
        )
    servers["policybot serve"] = (
        pinned([sys.executable, "-m", "bot", "serve", "--role", "web"], env),
        ports["serve"],
    )
    try:
        for _proc, port in servers.values():
            await wait_up(f"http://127.0.0.1:{port}/wechat")
        requests = build_requests(args.messages, texts)
        print(
            f"{args.messages} encrypted text messages ({len(texts)} different texts), "
            f"concurrency {args.concurrency}, servers on one core, {args.db}"
        )
        print(f"{'server':<32}{'msg/s':>8}{'msg/CPU-s':>11}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
        per_cpu = {}
        for name, (proc, port) in servers.items():
            url = f"http://127.0.0.1:{port}/wechat"
            await load(url, build_requests(300, texts), args.concurrency)  # warm-up
            cpu = cpu_seconds(proc.pid)
            elapsed, lat, errors = await load(url, requests, args.concurrency)
            per_cpu[name] = len(lat) / (cpu_seconds(proc.pid) - cpu)
            print(
                f"{name:<32}{len(lat) / elapsed:>8.0f}{per_cpu[name]:>11.0f}"
                f"{pct(lat, 50):>9.1f}{pct(lat, 99):>9.1f}{errors:>8}"
            )
        ours = per_cpu["policybot serve"]
        floor = per_cpu["protocol floor (bare aiohttp)"]
        print(
            f"policybot serve / protocol floor, replies per CPU-second: {ours / floor:.2f} "
            f"(target 0.8; the floor with one claim per message alone: "
            f"{per_cpu['floor + one claim per message'] / floor:.2f})"
        )
        if "WeRoBot 1.13 + title search" in per_cpu:
            print(
                f"policybot serve / WeRoBot, replies per CPU-second: "
                f"{ours / per_cpu['WeRoBot 1.13 + title search']:.2f} (target 1.5)"
            )
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
                    str(servers["policybot serve"][0].pid),
                    "-o",
                    args.profile,
                    "-f",
                    "raw",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            await asyncio.sleep(1)
            await load(
                f"http://127.0.0.1:{ports['serve']}/wechat",
                build_requests(args.messages, texts),
                args.concurrency,
            )
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
    finally:
        for proc, _port in servers.values():
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    asyncio.run(main())
