"""Crash safety for real: ``policybot serve`` processes killed with SIGKILL. A reply
recorded by a web process that dies at once is delivered by the worker started after
it, exactly once, and a second restart sends nothing again."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import aiohttp

from bot.participation.models import Outbox, OutboxState
from bot.services import open_services
from tests.participation.helpers import application, settings_for
from tests.processes import Service
from tests.web.console_helpers import RESIDENT, bearer

ADMIN = "/api/v1/admin/disclosure-requests"


async def _until_sent(fake: Any, count: int, timeout: float = 30) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(fake.messages(RESIDENT)) < count:
        assert loop.time() < deadline, "the worker did not deliver the reply"
        await asyncio.sleep(0.1)


async def test_reply_survives_a_killed_process_and_is_sent_once(
    db_url: str, fake_wechat: Any
) -> None:
    settings = settings_for(db_url, fake_wechat.url, participation={"outbox_poll_seconds": 0.3})
    fake_wechat.mark_active(RESIDENT)
    web = await Service(settings, role="web").start()
    try:
        async with aiohttp.ClientSession() as http:
            body = application(
                delivery="微信", openid=RESIDENT, received_on=dt.date.today().isoformat()
            )
            async with http.post(
                web.url + ADMIN, json=body, headers=bearer("tok-editor-7f3a9c2e5b8d1f4a")
            ) as resp:
                number = (await resp.json())["number"]
            reply = {"outcome": "予以公开", "text": "名单见附件"}
            async with http.post(
                f"{web.url}{ADMIN}/{number}/reply",
                json=reply,
                headers=bearer("tok-editor-7f3a9c2e5b8d1f4a"),
            ) as resp:
                assert resp.status == 200
    finally:
        web.kill()  # recorded, never delivered: the web role has no worker, and it is gone
    assert fake_wechat.messages(RESIDENT) == []

    worker = await Service(settings, role="worker").start()
    try:
        await _until_sent(fake_wechat, 1)
    finally:
        worker.kill()
    again = await Service(settings, role="worker").start()
    try:
        await asyncio.sleep(2)  # several polls
    finally:
        again.kill()
    messages = fake_wechat.messages(RESIDENT)
    assert len(messages) == 1 and number in messages[0]["payload"]["text"]["content"]
    async with open_services(settings):
        row = await Outbox.get(object_id=number, kind="disclosure.reply")
        assert row.state == OutboxState.sent and row.attempts == 1
