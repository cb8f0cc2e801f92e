"""The README's demo: a resident writes through the stand-in, which delivers the
message to the service's callback like WeChat and so learns the 48-hour window;
staff answers and customer pushes then reach the resident instead of failing 45015."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.config import Settings
from bot.wechat.fake import FakeWeChat
from tests.conftest import WECHAT_TOKEN
from tests.web.console_helpers import bearer, staff_settings


@pytest.fixture
async def service(db_url: str, fake_wechat: FakeWeChat) -> AsyncIterator[TestClient]:
    settings: Settings = staff_settings(db_url, fake_wechat.url)
    async with TestClient(TestServer(create_app(settings, role="web"), host="127.0.0.1")) as c:
        fake_wechat.configure(callback_url=str(c.make_url("/wechat")), callback_token=WECHAT_TOKEN)
        yield c


async def _say(fake: FakeWeChat, **body: Any) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.post(fake.url + "_fake/say", json=body) as r:
        assert r.status == 200
        return dict(await r.json())


async def test_a_message_through_the_stand_in_opens_the_window(
    service: TestClient, fake_wechat: FakeWeChat
) -> None:
    said = await _say(fake_wechat, openid="o-demo-resident", text="留言 村口路灯坏了")
    assert said["status"] == 200 and "编号" in said["reply"]
    number = int(said["reply"].split("编号 ")[1].split("）")[0])

    resp = await service.post(
        f"/api/v1/admin/feedback/{number}/answer",
        json={"answer": "已安排维修，三天内修好。"},
        headers=bearer("tok-editor-7f3a9c2e5b8d1f4a"),
    )
    result = await resp.json()
    assert result["delivered"] is True, result  # not 45015 any more
    sent = fake_wechat.messages("o-demo-resident")
    assert len(sent) == 1 and "已安排维修" in sent[0]["payload"]["text"]["content"]


async def test_events_and_unconfigured_callback(
    service: TestClient, fake_wechat: FakeWeChat
) -> None:
    welcome = await _say(fake_wechat, openid="o-new", event="subscribe")
    assert "感谢关注" in welcome["reply"]
    fake_wechat.configure(callback_url="")
    body = {"openid": "o", "text": "x"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(fake_wechat.url + "_fake/say", json=body) as r,
    ):
        assert r.status == 400 and "callback" in (await r.json())["error"]
