"""Two ``policybot serve`` processes behind one proxy: sessions and lockout are shared.

The same cookie jar talks to both (as a browser behind a load balancer
would): a log-in on one is valid on the other, a logout on one ends the
session on both, and failed log-ins count across them, through PostgreSQL
or through Redis.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import aiohttp
import pytest
from redis.asyncio import Redis

from bot import db
from bot.accounts import passwords
from bot.accounts.models import Account, LoginFailure
from tests.conftest import make_settings
from tests.processes import Service

PASSWORD = "Qingshan-2024-test"
REDIS_URL = "redis://127.0.0.1:6379/0"
LOGIN_KEYS = "policybot:login:*"  # the lockout's keys; no other test writes them


async def _forget_redis_locks() -> None:
    redis = Redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in redis.scan_iter(LOGIN_KEYS)]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


@pytest.fixture(params=["database", "redis"])
async def pair(request: pytest.FixtureRequest, db_url: str) -> AsyncIterator[tuple[str, str, str]]:
    settings = make_settings(db_url, "http://127.0.0.1:9/")
    env = {"POLICYBOT_REDIS_URL": REDIS_URL} if request.param == "redis" else {}
    await _forget_redis_locks()
    async with db.database(db_url):
        await Account.create(name="李编辑", role="editor", password_hash=passwords.hash_password(PASSWORD),
                             must_change_password=False)  # fmt: skip
        services = [Service(settings, **env), Service(settings, **env)]
        try:
            await asyncio.gather(*(s.start() for s in services))
            yield services[0].url, services[1].url, request.param
        finally:
            for s in services:
                s.stop()
            await _forget_redis_locks()


async def _log_in(http: aiohttp.ClientSession, base: str, password: str) -> aiohttp.ClientResponse:
    async with http.get(f"{base}/admin/login") as form:
        csrf = re.search(r'name="csrf" value="([^"]+)"', await form.text())
    assert csrf
    data = {"username": "李编辑", "password": password, "csrf": csrf.group(1)}
    async with http.post(f"{base}/admin/login", data=data, allow_redirects=False) as resp:
        await resp.read()
        return resp


async def _status(http: aiohttp.ClientSession, url: str) -> int:
    async with http.get(url, allow_redirects=False) as resp:
        return resp.status


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_sessions_and_lockout_are_shared(pair: tuple[str, str, str]) -> None:
    a, b, store = pair
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        assert (await _log_in(http, a, PASSWORD)).status == 303
        assert await _status(http, f"{b}/admin/") == 200  # the session lives in the shared store
        async with http.get(f"{b}/admin/") as page:
            csrf = re.search(r'name="csrf" value="([^"]+)"', await page.text())
        assert csrf
        async with http.post(
            f"{b}/admin/logout", data={"csrf": csrf.group(1)}, allow_redirects=False
        ) as out:
            assert out.status == 303
        assert await _status(http, f"{a}/admin/") == 303  # ended on A too

        failures = [await _log_in(http, (a, b)[i % 2], f"Wrong-pass-{i}") for i in range(5)]
        assert [r.status for r in failures] == [401, 401, 401, 401, 429]
        assert (await _log_in(http, a, PASSWORD)).status == 429
        assert (await _log_in(http, b, PASSWORD)).status == 429
        locks_in_db = await LoginFailure.filter(key__startswith="locked:").count()
        assert locks_in_db == (2 if store == "database" else 0)  # the account's and the address's
