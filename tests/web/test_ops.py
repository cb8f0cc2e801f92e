"""What an operator watches: /healthz, /metrics, the per-request log line,
and a database that goes away and comes back."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from tests.conftest import PG_DSN, make_settings
from tests.wechat.wx import WeChatServer, text_xml


async def test_health_and_metrics_after_a_conversation(db_url: str, fake_wechat: Any) -> None:
    token = "scraper-5e9a1c7d3b8f2e60a4c1"
    settings = make_settings(db_url, fake_wechat.url, server={"metrics_token": token})
    client = TestClient(TestServer(create_app(settings, role="web"), host="127.0.0.1"))
    await client.start_server()
    health = await client.get("/healthz")
    assert health.status == 200
    assert (await health.json())["database"] == "ok"

    reply = await WeChatServer(client).send(text_xml("帮助"))
    assert reply.status == 200

    scrape = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    metrics = await scrape.text()
    await client.close()
    assert 'policybot_http_requests_total{method="POST",route="/wechat",status="200"}' in metrics
    assert 'policybot_replies_total{handler="basics.help_"}' in metrics
    assert "policybot_callback_reply_seconds_bucket" in metrics


async def test_request_log_line_never_holds_message_content(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    secret_words = "我的身份证号码是三三零一"
    with caplog.at_level(logging.INFO):
        reply = await WeChatServer(client).send(text_xml(f"留言 {secret_words}"))
    assert reply.status == 200
    lines = [r for r in caplog.records if r.name == "bot.http" and r.getMessage() == "request"]
    assert any(
        getattr(r, "route", None) == "/wechat" and getattr(r, "status", None) == 200 for r in lines
    )
    everything = " ".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    assert secret_words not in everything


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_database_going_away_is_answered_politely(client: TestClient, db_url: str) -> None:
    name = db_url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(f"{PG_DSN}/postgres")
    try:
        await admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        health = await client.get("/healthz")
        assert health.status == 503
        reply = await WeChatServer(client).send(text_xml("帮助"))
        assert reply.status == 200
        assert "繁忙" in reply.text
    finally:
        await admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
        await admin.close()
    assert (await client.get("/healthz")).status == 200
    again = await WeChatServer(client).send(text_xml("帮助"))
    assert "订阅" in again.text
