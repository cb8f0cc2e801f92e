"""Shared fixtures: a fresh, migrated database per test on SQLite and on
PostgreSQL, settings that point at it and at the WeChat stand-in, and the
services or the whole app built on them.

Database tests run once per backend (ids ``[sqlite]`` / ``[postgres]``).
The PostgreSQL server on this machine is required (``.ci/run`` starts it).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot import db
from bot.config import Settings
from bot.services import Services, open_services

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "content"
PG_DSN = os.environ.get("POLICYBOT_TEST_PG", "postgres://postgres@127.0.0.1:5432")
WECHAT_TOKEN = "test-token"
APPID = "wxtestappid000001"
SECRET = "test-secret"


def _run(coro: Any) -> Any:
    """Run a coroutine to completion on a loop of its own (fixtures outside the test's loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file copied for each test (migrating every time is slower)."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    _run(_migrate(f"sqlite://{path}"))
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """One migrated PostgreSQL database per test worker, dropped at the end."""
    name = f"policybot_test_{_worker()}_{uuid.uuid4().hex[:8]}"
    _run(_pg_admin(f"CREATE DATABASE {name}"))
    url = f"{PG_DSN}/{name}"
    _run(_migrate(url))
    yield url
    _run(_pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


async def _migrate(url: str) -> None:
    await db.init_database(url)
    await db.close_database()


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(f"{PG_DSN}/postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _pg_truncate(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename NOT LIKE 'tortoise%'"
        )
        names = ", ".join(f'"{t["tablename"]}"' for t in tables)
        await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "policybot.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite://{path}"
    url: str = request.getfixturevalue("pg_database")
    _run(_pg_truncate(url))
    return url


@pytest.fixture
async def fake_wechat() -> AsyncIterator[Any]:
    """The project's WeChat API stand-in, served over loopback."""
    from bot.wechat.fake import FakeConfig, create_fake_app, fake_state

    app = create_fake_app(FakeConfig(appid=APPID, secret=SECRET, followers=20))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    state = fake_state(app)
    state.url = str(server.make_url("/"))
    yield state
    await server.close()


def make_settings(
    db_url: str, api_base_url: str, content_dir: Path = CONTENT, **sections: Any
) -> Settings:
    data: dict[str, Any] = {
        "database": {"url": db_url},
        "wechat": {
            "appid": APPID,
            "secret": SECRET,
            "token": WECHAT_TOKEN,
            "api_base_url": api_base_url,
        },
        "content": {"dir": str(content_dir), "sync_on_start": False},
        "server": {"base_url": "http://policy.test"},
        "log": {"format": "text"},
        "search": {"index_dir": ""},  # no index snapshot unless a test asks for one
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return Settings.model_validate(data)


@pytest.fixture
def settings(db_url: str, fake_wechat: Any) -> Settings:
    return make_settings(db_url, fake_wechat.url)


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    async with open_services(settings) as svc:
        yield svc


@pytest.fixture
async def synced(settings: Settings) -> AsyncIterator[Services]:
    """Services with the sample content in content/ imported."""
    async with open_services(settings, sync_content=True) as svc:
        yield svc


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient]:
    """The whole web app (role ``web``) on loopback, sample content imported."""
    from bot.app import create_app

    app = create_app(
        settings.model_copy(
            update={"content": settings.content.model_copy(update={"sync_on_start": True})}
        ),
        role="web",
    )
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        yield c


@pytest.fixture
async def fake_sms() -> AsyncIterator[Any]:
    """The Tencent Cloud SMS stand-in on loopback, in the test's own loop."""
    from bot.sms.fake import serve_fake_sms
    from tests.processes import free_port

    runner, state = await serve_fake_sms(free_port())
    try:
        yield state
    finally:
        await runner.cleanup()
