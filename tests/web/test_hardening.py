"""The service as an attacker, a failing disk and a scraper see it: absurd
parameters, storage faults, guessed tokens, security headers, /metrics, and a
resident who floods 留言 (issue 9 items 26-29)."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis
from tortoise import connections

from bot.app import create_app
from bot.config import Settings
from bot.models import Feedback
from tests.conftest import PG_DSN, ROOT, make_settings
from tests.processes import Service, free_port, settings_env
from tests.wechat.wx import WeChatServer, text_xml

EDITOR = "editor-hardening-4c8e1a7f0b3d9e25"
REVIEWER = "reviewer-hardening-4c8e1a7f0b3d9e25"
METRICS = "metrics-hardening-4c8e1a7f0b3d9e25"


def _settings(db_url: str, fake_url: str, **sections: Any) -> Settings:
    admin = {
        "api_tokens": [
            {"token": EDITOR, "role": "editor", "name": "李编辑"},
            {"token": REVIEWER, "role": "reviewer", "name": "张审核"},
        ],
        **sections.pop("admin", {}),
    }
    return make_settings(db_url, fake_url, admin=admin, content={"sync_on_start": True}, **sections)


@pytest.fixture
async def app(db_url: str, fake_wechat: Any) -> AsyncIterator[TestClient]:
    settings = _settings(db_url, fake_wechat.url, server={"metrics_token": METRICS})
    async with TestClient(TestServer(create_app(settings, role="web"), host="127.0.0.1")) as c:
        yield c


def _errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


# -- item 27: parameters that used to reach the database as 500s ------------------------------

UNAUTHENTICATED = [
    ("/api/v1/policies/%00", 400),
    ("/api/v1/policies?issuer=%00", 400),
    ("/api/v1/policies?area=a%00b", 400),
    ("/api/v1/policies?page=100000000000000000000", 400),
    ("/api/v1/policies?page=-1", 400),
    ("/api/v1/policies?per_page=abc", 400),
    ("/api/v1/policies?validity=%E6%9C%AA%E7%9F%A5", 400),
    ("/api/v1/policies?published_from=2024-13-01", 400),
    ("/api/v1/search?q=%E4%BD%8E%E4%BF%9D%00", 400),
    ("/api/v1/search?q=x&limit=100000000000000000000", 400),
    ("/policies/%00", 400),
    ("/policies?page=100000000000000000000", 400),
    ("/catalog/99999999999", 404),
    ("/catalog/-1", 404),
    ("/topics/%00", 400),
]


@pytest.mark.parametrize("path, status", UNAUTHENTICATED)
async def test_absurd_public_parameters_are_refused_not_crashes(
    app: TestClient, path: str, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    resp = await app.get(path)
    assert resp.status == status
    if path.startswith("/api/"):
        error = (await resp.json())["error"]
        assert error["code"] and error["message"]
    else:
        assert "text/html" in resp.headers["Content-Type"]
    assert not _errors(caplog)


ADMIN = [
    ("GET", "/api/v1/admin/campaigns/99999999999", 404),
    ("GET", "/api/v1/admin/campaigns/1e3", 404),
    ("GET", "/api/v1/admin/campaigns?state=%E6%9C%AA%E7%9F%A5", 400),
    ("GET", "/api/v1/admin/campaigns?page=100000000000000000000", 400),
    ("GET", "/api/v1/admin/subscribers?region=%00", 400),
    ("GET", "/api/v1/admin/audit?object_id=%00", 400),
    ("GET", "/api/v1/admin/policies?status=bogus", 400),
    ("GET", "/api/v1/admin/feedback?per_page=100000000000000000000", 400),
    ("POST", "/api/v1/admin/feedback/99999999999/answer", 404),
    ("GET", "/api/v1/admin/reports/deadlines?at_risk_days=100000000000000000000", 400),
]


@pytest.mark.parametrize("method, path, status", ADMIN)
async def test_absurd_admin_parameters_are_refused_not_crashes(
    app: TestClient, method: str, path: str, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    resp = await app.request(
        method, path, headers={"Authorization": f"Bearer {REVIEWER}"}, json={"answer": "好"}
    )
    assert resp.status == status
    assert (await resp.json())["error"]["message"]
    assert not _errors(caplog)


async def test_nul_in_a_json_body_is_a_client_error(
    app: TestClient, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL cannot store NUL in text (SQLite can): a 400, not a 500."""
    resp = await app.post(
        "/api/v1/admin/campaigns",
        headers={"Authorization": f"Bearer {EDITOR}"},
        json={
            "title": "医保\u0000提醒",
            "text": "x",
            "channel": "customer",
            "audience": {"everyone": True},
        },
    )
    if db_url.startswith("sqlite"):
        assert resp.status == 201
    else:
        assert resp.status == 400
        assert (await resp.json())["error"]["code"] == "bad_request"
    assert not _errors(caplog)


# -- item 26: storage faults ----------------------------------------------------------------


def test_serve_with_an_unwritable_database_stops_at_once_with_one_line(
    db_url: str, fake_wechat: Any
) -> None:
    settings = make_settings("sqlite:///sys/policybot-test/policybot.sqlite3", fake_wechat.url)
    env = settings_env(settings, POLICYBOT_SERVER_PORT=str(free_port()))
    result = subprocess.run(
        [sys.executable, "-m", "bot", "serve"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "database.url" in result.stderr and "/sys/policybot-test" in result.stderr


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_healthz_reports_a_sqlite_database_that_cannot_write(app: TestClient) -> None:
    assert (await app.get("/healthz")).status == 200
    conn = connections.get("default")
    await conn.execute_script("PRAGMA query_only = ON")  # reads work, every write fails
    try:
        health = await app.get("/healthz")
        assert health.status == 503
        assert (await health.json())["database"] == "read-only"
    finally:
        await conn.execute_script("PRAGMA query_only = OFF")
    assert (await app.get("/healthz")).status == 200


async def _pg_admin(sql: str, *args: Any) -> None:
    admin = await asyncpg.connect(f"{PG_DSN}/postgres")
    try:
        await admin.execute(sql, *args)
    finally:
        await admin.close()


async def _drop_connections(name: str) -> None:
    await _pg_admin(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = $1 AND pid <> pg_backend_pid()",
        name,
    )


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_healthz_reports_a_postgres_database_that_cannot_write(
    app: TestClient, db_url: str
) -> None:
    name = db_url.rsplit("/", 1)[1]
    await _pg_admin(f"ALTER DATABASE {name} SET default_transaction_read_only = on")
    try:
        await _drop_connections(name)
        bodies = [await (await app.get("/healthz")).json() for _ in range(3)]
        assert bodies[-1] == {"status": "error", "database": "read-only"}
    finally:
        await _pg_admin(f"ALTER DATABASE {name} RESET default_transaction_read_only")
        await _drop_connections(name)
    for _ in range(3):
        health = await app.get("/healthz")
    assert health.status == 200


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_outage_answers_503_everywhere_without_a_traceback_storm(
    app: TestClient, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    name = db_url.rsplit("/", 1)[1]
    await _pg_admin(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
    try:
        await _drop_connections(name)
        statuses = []
        for _ in range(20):
            for path in ("/policies", "/policies/dibao", "/api/v1/policies", "/api/v1/topics"):
                statuses.append((await app.get(path)).status)
        api = await app.get("/api/v1/policies")
        assert (await api.json())["error"]["code"] == "unavailable"
    finally:
        await _pg_admin(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
    tracebacks = [r for r in _errors(caplog) if r.exc_info and r.name == "bot.http"]
    assert set(statuses) == {503}, [r.exc_info[0] for r in tracebacks if r.exc_info]
    assert 1 <= len(tracebacks) <= 3, f"{len(tracebacks)} tracebacks for {len(statuses)} requests"
    assert (await app.get("/api/v1/topics")).status == 200


# -- item 28: guessing admin tokens ----------------------------------------------------------


async def test_wrong_bearer_tokens_are_throttled_per_address_across_processes(
    db_url: str, fake_wechat: Any
) -> None:
    settings = _settings(db_url, fake_wechat.url, admin={"auth_failures_per_minute": 5})
    other = await Service(settings).start()  # a second process on the same database
    try:
        async with (
            TestClient(TestServer(create_app(settings, role="web"), host="127.0.0.1")) as here,
            aiohttp.ClientSession() as http,
        ):
            wrong = {"Authorization": "Bearer guess-0000000000000000000000"}
            right = {"Authorization": f"Bearer {REVIEWER}"}
            assert (await here.get("/api/v1/admin/campaigns", headers=right)).status == 200
            seen = []
            for i in range(5):
                target = f"{other.url}/api/v1/admin/campaigns" if i % 2 else None
                if target:
                    async with http.get(target, headers=wrong) as resp:
                        seen.append(resp.status)
                else:
                    seen.append((await here.get("/api/v1/admin/campaigns", headers=wrong)).status)
            assert seen == [401] * 5
            for client_get in (
                lambda: here.get("/api/v1/admin/campaigns", headers=right),
                lambda: http.get(f"{other.url}/api/v1/admin/campaigns", headers=right),
            ):
                async with client_get() as resp:
                    assert resp.status == 429
                    assert 1 <= int(resp.headers["Retry-After"]) <= 60
                    assert "秒后再试" in (await resp.json())["error"]["message"]
            # Public routes are not affected.
            assert (await here.get("/api/v1/topics")).status == 200
    finally:
        other.stop()


async def test_behind_a_trusted_proxy_each_client_is_counted_alone(
    db_url: str, fake_wechat: Any
) -> None:
    wrong = {"Authorization": "Bearer guess-0000000000000000000000"}
    path = "/api/v1/admin/campaigns"

    async def statuses(trusted: list[str], clients: list[str]) -> list[int]:
        settings = _settings(
            db_url,
            fake_wechat.url,
            server={"trusted_proxies": trusted},
            admin={"auth_failures_per_minute": 2},
        )
        async with TestClient(
            TestServer(create_app(settings, role="web"), host="127.0.0.1")
        ) as client:
            return [
                (
                    await client.get(path, headers={**wrong, "X-Forwarded-For": f"{ip}, 127.0.0.1"})
                ).status
                for ip in clients
            ]

    # The proxy on 127.0.0.1 is trusted: the guesser is stopped, the next resident is not.
    trusted = await statuses(["127.0.0.1"], ["203.0.113.5"] * 3 + ["203.0.113.9"])
    assert trusted == [401, 401, 429, 401]
    # Not trusted: X-Forwarded-For is the caller's own claim and changes nothing.
    untrusted = await statuses([], ["198.51.100.1", "198.51.100.2", "198.51.100.3"])
    assert untrusted == [401, 401, 429]


async def test_failure_counts_are_shared_through_redis() -> None:
    from bot import throttle

    redis = Redis.from_url("redis://127.0.0.1:6379/0", decode_responses=True)
    key = f"test-hardening:{id(redis)}"
    try:
        counts = [(await throttle.hit(redis, key, 60)).count for _ in range(3)]
        other = Redis.from_url("redis://127.0.0.1:6379/0", decode_responses=True)
        seen_elsewhere = (await throttle.peek(other, key, 60)).count
        await other.aclose()
    finally:
        await redis.aclose()
    assert counts == [1, 2, 3]
    assert seen_elsewhere == 3


async def test_signature_check_takes_only_the_right_signature_and_never_raises() -> None:
    """One function (hmac.compare_digest over WeChat's sha1) checks URL and message signatures."""
    from bot.wechat.messages import signature_matches
    from tests.wechat.wx import signature

    good = signature("tok", "1700000000", "42")
    assert signature_matches(good, "tok", "1700000000", "42")
    assert not signature_matches(
        good[:-1] + ("0" if good[-1] != "0" else "1"), "tok", "1700000000", "42"
    )
    assert not signature_matches("签名", "tok", "1700000000", "42")  # non-ASCII never raises


# -- item 29: headers, /metrics, 留言 flood ---------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/policies", "/policies/nope", "/api/v1/policies", "/static/site.css", "/healthz"]
)
async def test_every_response_carries_security_headers_and_no_banner(
    app: TestClient, path: str
) -> None:
    resp = await app.get(path)
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";")[0]
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Server" not in resp.headers


async def test_public_pages_hold_no_inline_script(app: TestClient) -> None:
    for path in ("/policies", "/policies/dibao", "/topics/relief"):
        html = await (await app.get(path)).text()
        assert "<script>" not in html and " on" + "click=" not in html


async def test_metrics_need_the_token_on_the_public_port(app: TestClient) -> None:
    assert (await app.get("/metrics")).status == 404
    assert (await app.get("/metrics", headers={"Authorization": "Bearer nope"})).status == 404
    resp = await app.get("/metrics", headers={"Authorization": f"Bearer {METRICS}"})
    assert resp.status == 200
    assert "policybot_http_requests_total" in await resp.text()


async def test_metrics_are_not_public_by_default_and_served_on_their_own_address(
    db_url: str, fake_wechat: Any
) -> None:
    port = free_port()
    settings = _settings(db_url, fake_wechat.url, server={"metrics_listen": f"127.0.0.1:{port}"})
    async with (
        TestClient(TestServer(create_app(settings, role="web"), host="127.0.0.1")) as public,
        aiohttp.ClientSession() as http,
    ):
        assert (await public.get("/metrics")).status == 404
        async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
            assert resp.status == 200
            assert "policybot_callback_reply_seconds" in await resp.text()
        async with http.get(f"http://127.0.0.1:{port}/policies") as resp:
            assert resp.status == 404  # nothing else lives on the internal address


async def test_a_resident_flooding_feedback_is_answered_politely(
    db_url: str, fake_wechat: Any
) -> None:
    settings = _settings(db_url, fake_wechat.url, feedback={"per_minute": 3, "per_day": 5})
    async with TestClient(TestServer(create_app(settings, role="web"), host="127.0.0.1")) as c:
        wechat = WeChatServer(c)
        replies = [
            (await wechat.send(text_xml(f"留言 第{i}条", openid="o-flood"))).text for i in range(5)
        ]
        other = await wechat.send(text_xml("留言 别人的留言", openid="o-other"))
        assert await Feedback.filter(openid="o-flood").count() == 3
    assert all("已收到" in r for r in replies[:3])
    assert all("每分钟最多 3 条" in r and "秒后再试" in r for r in replies[3:])
    assert "已收到" in other.text


async def test_the_daily_feedback_limit_is_named(db_url: str, fake_wechat: Any) -> None:
    settings = _settings(db_url, fake_wechat.url, feedback={"per_minute": 10, "per_day": 2})
    async with TestClient(TestServer(create_app(settings, role="web"), host="127.0.0.1")) as c:
        wechat = WeChatServer(c)
        texts = [(await wechat.send(text_xml(f"留言 {i}", openid="o-day"))).text for i in range(3)]
        assert await Feedback.filter(openid="o-day").count() == 2
    assert "已收到" in texts[1]
    assert "今天的留言已达 2 条" in texts[2]


async def test_feedback_limits_hold_across_processes_through_the_database(
    db_url: str, fake_wechat: Any
) -> None:
    settings = _settings(db_url, fake_wechat.url, feedback={"per_minute": 2, "per_day": 20})
    other = await Service(settings).start()
    try:
        async with (
            TestClient(TestServer(create_app(settings, role="web"), host="127.0.0.1")) as here,
            aiohttp.ClientSession() as http,
        ):
            from tests.wechat.wx import RemoteClient

            a, b = WeChatServer(here), WeChatServer(RemoteClient(http, other.url))
            texts = [
                (await server.send(text_xml(f"留言 {i}", openid="o-two"))).text
                for i, server in enumerate((a, b, a))
            ]
    finally:
        other.stop()
    assert ["已收到" in t for t in texts] == [True, True, False]


# -- schemathesis over the OpenAPI document (item 27) ---------------------------------------


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_schemathesis_finds_no_server_error(
    db_url: str, fake_wechat: Any, tmp_path: Any
) -> None:
    """Generated requests for every documented route, with and without a valid token,
    including boundary values (huge numbers, NUL, odd strings): never a 5xx."""
    pytest.importorskip("schemathesis")
    settings = _settings(db_url, fake_wechat.url, admin={"auth_failures_per_minute": 10**9})
    # The child's stderr is a pipe nobody reads during the run: keep its log short.
    service = await Service(settings, POLICYBOT_LOG_LEVEL="ERROR").start()
    try:
        result = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                "-c",
                "from schemathesis.cli import schemathesis; schemathesis()",
                "run",
                f"{service.url}/api/v1/openapi.json",
                "--checks",
                "not_a_server_error",
                "--phases",
                "coverage,fuzzing",
                "--max-examples",
                "25",
                "--seed",
                "20261201",
                "--header",
                f"Authorization: Bearer {REVIEWER}",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        service.stop()
    assert result.returncode == 0, result.stdout[-3000:]
