"""Push fixtures: settings with staff tokens and no quiet hours, a few topics
and residents in the database, the admin API on loopback, and the push
runtime (scheduler + delivery workers) running in the test's process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.catalog import stored
from bot.catalog.models import Topic
from bot.config import Settings
from bot.keys import SERVICES, SETTINGS
from bot.models import Subscriber, Subscription
from bot.push.runtime import PushRuntime, push_runtime
from bot.services import Services, open_services
from bot.web.errors import json_errors
from bot.web.routes import pushes
from tests.conftest import make_settings

EDITOR = {"Authorization": "Bearer editor-token-7f3a9c2e5b8d1f4a"}
EDITOR2 = {"Authorization": "Bearer editor2-token-7f3a9c2e5b8d1f4a"}
REVIEWER = {"Authorization": "Bearer reviewer-token-7f3a9c2e5b8d1f4a"}
TOKENS = [
    {"token": "editor-token-7f3a9c2e5b8d1f4a", "role": "editor", "name": "小王"},
    {"token": "editor2-token-7f3a9c2e5b8d1f4a", "role": "editor", "name": "小李"},
    {"token": "reviewer-token-7f3a9c2e5b8d1f4a", "role": "reviewer", "name": "老张"},
]
TOPICS = [
    ("relief", "救助", ["低保", "社会救助"]),
    ("subsidies", "补贴", ["惠农补贴"]),
    ("relocation", "征收拆迁", ["拆迁", "征收"]),
]
REGIONS = [{"name": "城关镇", "aliases": ["城关"]}, {"name": "东山镇", "aliases": ["东山"]}]


def push_settings(
    db_url: str, api_base_url: str, sections: dict[str, Any] | None = None, **push: Any
) -> Settings:
    """Push test settings; ``sections`` adds others (``sms``, ``privacy``…)."""
    return make_settings(
        db_url, api_base_url,
        push={"quiet_hours": "", "rate_per_second": 500, "workers": 4, **push},
        admin={"api_tokens": TOKENS},
        wechat={"template_id": "tmpl-policy"},
        **(sections or {}),
    )  # fmt: skip


@pytest.fixture
def settings(db_url: str, fake_wechat: Any) -> Settings:
    return push_settings(db_url, fake_wechat.url)


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    async with open_services(settings) as svc:
        for i, (tid, name, aliases) in enumerate(TOPICS):
            await Topic.create(id=tid, name=name, aliases=aliases, position=i)
        await stored.save("regions", REGIONS)  # as content sync stores regions.yaml
        yield svc


async def add_residents(openids: list[str], topics: list[str] = (), region: str | None = None,
                        **fields: Any) -> None:  # fmt: skip
    now = datetime.now(UTC)
    await Subscriber.bulk_create(
        [
            Subscriber(openid=o, following=True, followed_at=now, region=region, **fields)
            for o in openids
        ],
        ignore_conflicts=True,
    )
    for topic in topics:
        await Subscription.bulk_create(
            [Subscription(subscriber_id=o, topic_id=topic) for o in openids], ignore_conflicts=True
        )


def fake_ids(start: int, stop: int) -> list[str]:
    """Openids the stand-in generates for its followers (o-fake-000001 …)."""
    return [f"o-fake-{i:06d}" for i in range(start, stop + 1)]


@pytest.fixture
async def runtime(services: Services) -> AsyncIterator[PushRuntime]:
    async with push_runtime(services) as rt:
        yield rt


@pytest.fixture
async def api(services: Services) -> AsyncIterator[TestClient]:
    """The campaign admin API on loopback, sharing the test's services."""
    app = web.Application(middlewares=[json_errors])
    app[SETTINGS] = services.settings
    app[SERVICES] = services
    pushes(app)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 20.0) -> Any:
    """Poll ``check`` until it returns something truthy (deliveries are asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last: {result!r})")
        await asyncio.sleep(0.1)
