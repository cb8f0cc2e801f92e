"""Benchmark: one template campaign to many residents through ``policybot fake-wechat``.

Prints messages per second against the configured ceiling (target: at least
90% of it at 1,000/s), database time per delivery, and the worker's memory
(resident set before the send and its peak during it: it must not grow with
the audience). Not a test: run it by hand.

    python bench/push.py                          # 100,000 residents, 1,000/s, SQLite
    python bench/push.py --db postgres            # the same on the local PostgreSQL
    python bench/push.py --residents 10000        # compare memory with a smaller audience
    python bench/push.py --sms-share 0.2 --email-share 0.05   # WeChat, then SMS and email fallback

With ``--sms-share``/``--email-share`` that share of the residents does not
follow on the WeChat stand-in (40003): the campaign's ``fallback: [sms,
email]`` reaches them through ``policybot fake-sms`` and an aiosmtpd sink,
and the figures are given per channel against each ceiling.
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
from bot.config import PrivacySettings, Settings  # noqa: E402
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


async def seed_contacts(n: int, sms_share: float, email_share: float) -> tuple[int, int]:
    """The last residents (not following on WeChat) gave a phone or an email with consent."""
    from bot import privacy
    from bot.contacts.models import Contact

    phones, emails = int(n * sms_share), int(n * email_share)
    first = n - phones - emails + 1
    now = datetime.now(UTC)
    rows = []
    for i in range(first, n + 1):
        if i < first + phones:
            number = f"+86139{i:08d}"
            rows.append(Contact(openid=f"o-fake-{i:06d}", phone=privacy.encrypt(number),
                                phone_lookup=privacy.lookup_hash(number), phone_consent_at=now,
                                source="staff"))  # fmt: skip
        else:
            address = f"r{i}@example.cn"
            rows.append(Contact(openid=f"o-fake-{i:06d}", email=privacy.encrypt(address),
                                email_lookup=privacy.lookup_hash(address), email_consent_at=now,
                                source="staff"))  # fmt: skip
    await Contact.bulk_create(rows, batch_size=2000)
    return phones, emails


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
    mixed = args.sms_share > 0 or args.email_share > 0
    followers = args.residents - int(args.residents * (args.sms_share + args.email_share))
    fake = subprocess.Popen(
        [sys.executable, "-m", "bot", "fake-wechat", "--port", str(port), "--appid", APPID,
         "--secret", SECRET, "--followers", str(followers)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
    )  # fmt: skip
    extra: dict[str, dict] = {}
    helpers: list[subprocess.Popen] = []
    if mixed:
        from cryptography.fernet import Fernet

        from bot import privacy

        sms_port, smtp_port = free_port(), free_port()
        helpers.append(subprocess.Popen(
            [sys.executable, "-m", "bot", "fake-sms", "--port", str(sms_port), "--interval", "0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT))  # fmt: skip
        helpers.append(subprocess.Popen(
            [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{smtp_port}",
             "-c", "aiosmtpd.handlers.Sink"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT))  # fmt: skip
        key = Fernet.generate_key().decode()
        privacy.configure(PrivacySettings(key=key))
        extra = {
            "sms": {"secret_id": "AKIDfakesms", "secret_key": "fake-sms-secret",
                    "sdk_app_id": "1400000001", "sign_name": "青山县政务", "template_id": "100001",
                    "endpoint": f"http://127.0.0.1:{sms_port}/",
                    "rate_per_second": args.sms_rate, "daily_limit": 10**7},
            "email": {"host": "127.0.0.1", "port": smtp_port, "from": "notice@qingshan.gov.cn",
                      "starttls": False, "rate_per_second": args.email_rate},
            "privacy": {"key": key},
        }  # fmt: skip
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
                 "batch_size": args.batch, "fallback_delay_seconds": 0},
        "log": {"level": "WARNING"},
        **extra,
    })  # fmt: skip
    try:
        await wait_http(fake_url + "_fake/state")
        t0 = time.perf_counter()
        await db.init_database(url)
        await seed(args.residents)
        body = {"title": "低保标准提高", "text": "2025 年起城乡低保标准提高。", "channel": "template",
                "audience": {"topics": ["relief"]}}  # fmt: skip
        if mixed:
            await seed_contacts(args.residents, args.sms_share, args.email_share)
            body["fallback"] = ["sms", "email"]
        campaign = await campaigns.create(body, Actor("editor", "editor"), settings)
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
                    fallbacks = await CampaignRun.filter(
                        campaign_id=campaign.id, kind__startswith="fallback"
                    ).count()
                    if state in (CampaignState.done, CampaignState.failed) and (
                        not mixed or fallbacks == 2
                    ):
                        break
                finished = time.perf_counter()
                cpu = time.process_time() - cpu_started
                stats = engine.stats
            if sys.stderr.isatty():
                print(file=sys.stderr)
            counts = await campaigns.counts(await Campaign.get(id=campaign.id))
            per_channel = await channel_speeds(campaign.id)
            db_isolated = await isolated_db_time(
                engine, campaign.id, min(args.residents, 20_000), args.batch
            )
        fake_figures = await fake_state(fake_url)
    finally:
        for proc in (fake, *helpers):
            proc.terminate()
            proc.wait()
        if args.db == "postgres":
            conn = await asyncpg.connect(f"{PG}/postgres")
            await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            await conn.close()

    delivered = counts["sent"]
    send_time = finished - (first or started)
    rate = delivered / send_time if send_time else 0.0
    print(f"campaign: {counts}  state={state.value}")
    ceilings = {"template": args.rate, "sms": args.sms_rate, "email": args.email_rate}
    for channel, (sent, seconds) in per_channel.items():
        speed = sent / seconds if seconds else 0.0
        ceiling = ceilings.get(channel, args.rate)
        print(f"  {channel}: {sent:,} sent in {seconds:.1f} s = {speed:,.0f}/s against "
              f"{ceiling:,.0f}/s ({100 * speed / ceiling:.0f}%)")  # fmt: skip
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


async def channel_speeds(campaign_id: int) -> dict[str, tuple[int, float]]:
    """Per channel: rows sent and the time from its first to its last acknowledgement."""
    out = {}
    for channel in ("template", "sms", "email"):
        times = await Delivery.filter(
            campaign_id=campaign_id, channel=channel, state="sent"
        ).values_list("sent_at", flat=True)
        if times:
            out[channel] = (len(times), (max(times) - min(times)).total_seconds())
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--sms-share", type=float, default=0.0, help="residents reached by SMS")
    parser.add_argument("--email-share", type=float, default=0.0, help="residents reached by email")
    parser.add_argument("--sms-rate", type=float, default=200)
    parser.add_argument("--email-rate", type=float, default=100)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(parser.parse_args()))
