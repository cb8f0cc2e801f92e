"""Voice messages are answered as the text WeChat recognised; a shared location
sets the resident's town when it falls in one (by the label's town name, or by
the coordinates regions.yaml carries). Sent through the real callback."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.catalog.loader import load_content
from bot.models import Subscriber
from bot.push.subscriptions import topics_of
from tests.conftest import CONTENT, make_settings
from tests.wechat.wx import WeChatServer, message_xml

REGIONS = """\
- name: 城关镇
  aliases: [城关]
  center: [30.2800, 120.1500]
  radius_km: 4
- name: 东山镇
  aliases: [东山]
  center: [30.3500, 120.3000]
- name: 西岭乡
  aliases: [西岭]
"""


@pytest.fixture
async def wechat(db_url: str, fake_wechat: Any, tmp_path: Path) -> AsyncIterator[WeChatServer]:
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    (content / "regions.yaml").write_text(REGIONS, encoding="utf-8")
    settings = make_settings(db_url, fake_wechat.url, content_dir=content)
    settings = settings.model_copy(
        update={"content": settings.content.model_copy(update={"sync_on_start": True})}
    )
    async with TestClient(TestServer(create_app(settings, role="web"), host="127.0.0.1")) as c:
        yield WeChatServer(c)


def voice(recognition: str, openid: str = "o-voice") -> str:
    fields = {"MediaId": "media-1", "Format": "amr"}
    if recognition:
        fields["Recognition"] = recognition
    return message_xml("voice", fields, openid=openid)


def location(lat: float, lon: float, label: str, openid: str = "o-place") -> str:
    fields = {"Location_X": str(lat), "Location_Y": str(lon), "Scale": "15", "Label": label}
    return message_xml("location", fields, openid=openid)


async def test_voice_is_answered_as_its_recognised_text(wechat: WeChatServer) -> None:
    reply = await wechat.send(voice("低保怎么申请？"))
    assert "低保" in reply.text and "/policies/" in reply.text
    assert "只能识别文字" not in reply.text
    subscribed = await wechat.send(voice("订阅救助。"))
    assert "已订阅“救助”" in subscribed.text
    assert [t.name for t in await topics_of("o-voice")] == ["救助"]


async def test_voice_without_recognition_says_so(wechat: WeChatServer) -> None:
    reply = await wechat.send(voice(""))
    assert "语音" in reply.text


async def _region(openid: str) -> str | None:
    return (await Subscriber.get(openid=openid)).region


async def test_location_sets_the_town_by_label_or_coordinates(wechat: WeChatServer) -> None:
    by_label = await wechat.send(location(0.0, 0.0, "青山县西岭乡中心小学", openid="o-1"))
    assert "“西岭乡”" in by_label.text
    assert await _region("o-1") == "西岭乡"

    # No town in the label: 2 km from 城关镇's seat.
    by_point = await wechat.send(location(30.2950, 120.1580, "人民路88号", openid="o-2"))
    assert "“城关镇”" in by_point.text
    assert await _region("o-2") == "城关镇"

    # East of 东山镇's seat by ~4.8 km: inside its default 5 km.
    await wechat.send(location(30.3500, 120.3500, "", openid="o-3"))
    assert await _region("o-3") == "东山镇"


async def test_location_outside_every_town_changes_nothing(wechat: WeChatServer) -> None:
    await wechat.send(location(30.2800, 120.1500, "城关镇", openid="o-4"))
    far = await wechat.send(location(39.9042, 116.4074, "北京市东城区", openid="o-4"))
    assert "不在本县" in far.text and "地区 " in far.text
    assert await _region("o-4") == "城关镇"


def test_content_check_reports_bad_coordinates(tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    (content / "regions.yaml").write_text(
        "- name: 城关镇\n  center: [120.15, 30.28, 1]\n- name: 东山镇\n  radius_km: -1\n",
        encoding="utf-8",
    )
    problems = [str(p) for p in load_content(content).errors]
    assert any("regions.yaml:2" in p and "纬度, 经度" in p for p in problems), problems
    assert any("regions.yaml:4" in p and "正数" in p for p in problems), problems
