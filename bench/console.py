"""Console pages under a county-sized database: p50/p95 per page and queries per page.

    python bench/console.py [--db sqlite|postgres] [--residents 100000]
                            [--policies 10000] [--campaigns 1000] [--requests 30]

Fills a fresh database with N residents (each with a town and a topic),
policies (a tenth of them waiting for review, each with an interpretation),
campaigns (every tenth one sent to 1,000 residents) and 留言, then logs in as
an admin and requests every console page over real HTTP. The query count is
taken from Tortoise's query log in a separate pass, so logging does not slow
the timed requests; a list whose count grows with its rows has a query per row.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import scratch  # noqa: E402
from tortoise import connections  # noqa: E402
from tortoise.models import Model  # noqa: E402

from bot.accounts import passwords  # noqa: E402
from bot.accounts.models import Account  # noqa: E402
from bot.app import create_app  # noqa: E402
from bot.catalog.models import Interpretation, Policy, Status, Topic  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.models import Feedback, Subscriber, Subscription  # noqa: E402
from bot.push.models import (  # noqa: E402
    Campaign,
    CampaignRun,
    CampaignState,
    Channel,
    Delivery,
    DeliveryState,
    RunState,
)

TOWNS = ["城关镇", "青河街道", "凤凰街道", "东山镇", "西岭乡", "南湖镇", "北塘镇", "石桥乡"]
TOKEN = "bench-admin-token-0123456789"
PASSWORD = "Bench-console-2024"  # meets the password rules
BATCH = 5000


class QueryCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


async def _bulk(model: type[Model], rows: list[Any]) -> None:
    for start in range(0, len(rows), BATCH):
        await model.bulk_create(rows[start : start + BATCH])


async def fill(residents: int, policies: int, campaigns: int) -> dict[str, str]:
    now = dt.datetime.now(dt.UTC)
    topics = list(await Topic.all().values_list("id", flat=True))
    openids = [f"o-bench-{n:07d}" for n in range(residents)]
    await _bulk(Subscriber, [
        Subscriber(openid=o, region=TOWNS[n % len(TOWNS)], following=n % 50 != 0,
                   followed_at=now - dt.timedelta(days=n % 120), last_active_at=now - dt.timedelta(hours=n % 200))
        for n, o in enumerate(openids)
    ])  # fmt: skip
    await _bulk(Subscription, [Subscription(subscriber_id=o, topic_id=topics[n % len(topics)])
                               for n, o in enumerate(openids)])  # fmt: skip
    await _bulk(Policy, [
        Policy(id=f"bench-{n:05d}", title=f"青山县关于第{n}项惠民政策的通知", issuer="青山县人民政府办公室",
               written_on=dt.date(2025, 1 + n % 12, 1 + n % 28), doc_number=f"青政办〔2025〕{n}号",
               index_number=f"QS-2025-{n:05d}", summary="摘要", body_md="正文", body_html="<p>正文</p>",
               status=Status.review if n % 10 == 0 else Status.published if n % 10 < 8 else Status.draft,
               published_on=dt.date(2025, 1 + n % 12, 1 + n % 28) + dt.timedelta(days=14)
               if 0 < n % 10 < 8 else None)
        for n in range(policies)
    ])  # fmt: skip
    await _bulk(Interpretation, [
        Interpretation(id=f"bench-{n:05d}-jd", title=f"第{n}项政策解读", policy_id=f"bench-{n:05d}",
                       body_md="解读", body_html="<p>解读</p>", status=Status.review if n % 10 == 0 else Status.draft)
        for n in range(0, policies, 2)
    ])  # fmt: skip
    await _bulk(Campaign, [
        Campaign(title=f"推送 {n}", text="请按时办理。", channel=Channel.template, author="bench",
                 audience={"topics": [topics[n % len(topics)]], "regions": [], "everyone": False},
                 state=CampaignState.done if n % 10 == 0 else CampaignState.draft, audience_count=1000)
        for n in range(campaigns)
    ])  # fmt: skip
    sent_ids = [c.id for c in await Campaign.filter(state=CampaignState.done).only("id")]
    await _bulk(CampaignRun, [CampaignRun(campaign_id=c, scheduled_for=now, state=RunState.done,
                                          total=1000, materialized=True) for c in sent_ids])  # fmt: skip
    runs = dict(await CampaignRun.filter(campaign_id__in=sent_ids).values_list("campaign_id", "id"))
    await _bulk(Delivery, [
        Delivery(run_id=runs[c], campaign_id=c, openid=openids[(c * 1000 + k) % residents],
                 state=DeliveryState.sent if k % 20 else DeliveryState.failed, sent_at=now,
                 error_code=None if k % 20 else 43004)
        for c in sent_ids for k in range(1000)
    ])  # fmt: skip
    await _bulk(
        Feedback,
        [
            Feedback(openid=openids[n % residents], text=f"第{n}条留言：路灯坏了")
            for n in range(5000)
        ],
    )
    await Feedback.filter(id__lte=2500).update(created_at=now - dt.timedelta(hours=60))
    return {"campaign": str(sent_ids[0]), "policy": "bench-00000", "openid": openids[1]}


def pages(ids: dict[str, str]) -> list[str]:
    return [
        "/admin/", "/admin/policies", "/admin/policies?status=review", "/admin/policies?q=第12",
        f"/admin/policies/{ids['policy']}", "/admin/policies/new", "/admin/review",
        "/admin/campaigns", "/admin/campaigns?state=draft", f"/admin/campaigns/{ids['campaign']}",
        f"/admin/campaigns/{ids['campaign']}/progress", "/admin/campaigns/new",
        "/admin/feedback", "/admin/feedback?status=overdue", "/admin/feedback?status=all&q=路灯",
        "/admin/residents", f"/admin/residents?openid={ids['openid']}",
        "/admin/accounts", "/admin/audit", "/admin/account",
    ]  # fmt: skip


async def log_in(client: TestClient) -> None:
    """Log in as a named admin account (the console's only log-in)."""
    await Account.create(name="bench", role="admin", password_hash=passwords.hash_password(PASSWORD),
                         must_change_password=False)  # fmt: skip
    form = await (await client.get("/admin/login")).text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    resp = await client.post(
        "/admin/login",
        data={"username": "bench", "password": PASSWORD, "csrf": csrf},
        allow_redirects=False,
    )
    assert resp.status == 303, await resp.text()


async def run(args: argparse.Namespace) -> None:
    async with scratch(args.db) as (_work, url):
        settings = Settings.model_validate({
            "database": {"url": url}, "content": {"dir": str(ROOT / "content"), "sync_on_start": True},
            "admin": {"api_tokens": [{"token": TOKEN, "role": "admin", "name": "bench"}]},
            "log": {"level": "WARNING"},
        })  # fmt: skip
        async with TestClient(
            TestServer(create_app(settings, role="web"), host="127.0.0.1")
        ) as client:
            started = time.perf_counter()
            ids = await fill(args.residents, args.policies, args.campaigns)
            if args.db == "postgres":
                await connections.get("default").execute_script("ANALYZE")
            print(f"{args.db}: filled {args.residents} residents, {args.policies} policies, "
                  f"{args.campaigns} campaigns in {time.perf_counter() - started:.0f}s")  # fmt: skip
            await log_in(client)
            counter = QueryCounter()
            db_log = logging.getLogger("tortoise.db_client")
            print(f"{'page':52} {'first ms':>8} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}")
            worst = 0.0
            for path in pages(ids):
                t0 = time.perf_counter()
                resp = await client.get(path)  # the first view (cold caches), and it must work
                await resp.read()
                first = (time.perf_counter() - t0) * 1000
                assert resp.status == 200, (path, resp.status, (await resp.text())[:300])
                db_log.addHandler(counter)
                db_log.setLevel(logging.DEBUG)
                counter.count = 0
                await (await client.get(path)).read()
                db_log.removeHandler(counter)
                db_log.setLevel(logging.WARNING)
                times = []
                for _ in range(args.requests):
                    t0 = time.perf_counter()
                    await (await client.get(path)).read()
                    times.append((time.perf_counter() - t0) * 1000)
                p95 = statistics.quantiles(times, n=20)[-1]
                worst = max(worst, p95)
                print(
                    f"{path:52} {first:8.1f} {statistics.median(times):8.1f} {p95:8.1f} {counter.count:8d}"
                )
            print(f"{args.db}: slowest page p95 {worst:.1f} ms (target < 100 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--policies", type=int, default=10_000)
    parser.add_argument("--campaigns", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=30)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
