"""Greetings, thanks, "how do I use this", asking for a person and 12345 get a
fitting answer, however the resident punctuates them; real questions still search."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.handlers.types import Incoming, TextReply
from bot.services import Services
from tests.conftest import make_settings
from tests.handlers.chat import ask, say

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("text", "route"),
    [
        ("你好", "smalltalk"),
        ("您好！", "smalltalk"),
        ("在吗？？", "smalltalk"),
        ("有人吗", "smalltalk"),
        ("谢谢啦！", "smalltalk"),
        ("怎么用", "smalltalk"),
        ("你能做什么？", "smalltalk"),
        ("人工", "smalltalk"),
        ("转人工客服", "smalltalk"),
        ("我要找人工客服！", "smalltalk"),
        ("12345", "smalltalk"),
        ("你好，低保怎么申请", "search"),
        ("举报电话", "search"),
    ],
)
async def test_small_talk_is_recognised_however_typed(
    synced: Services, text: str, route: str
) -> None:
    got, _ = await ask(synced, text)
    assert got.split(".")[0] == route


async def test_each_intent_gets_its_own_answer(synced: Services) -> None:
    assert "政策在线" in await say(synced, "你好")
    assert "不客气" in await say(synced, "多谢！")
    assert "订阅" in await say(synced, "怎么用？") and "留言" in await say(synced, "怎么用？")
    person = await say(synced, "转人工客服")
    assert "留言" in person and "12345" in person and "工作时间" in person
    assert "没有找到" not in person
    hotline = await say(synced, "12345")
    assert "便民热线" in hotline and "24 小时" in hotline
    assert "举报" not in hotline


async def _person_at(services: Services, when: datetime) -> str:
    message = Incoming(kind="text", openid="o-x", created_at=when, text="人工")
    from bot.handlers import dispatcher
    from bot.handlers.types import Context

    _, reply = await dispatcher().dispatch(message, Context(services, message, when))
    assert isinstance(reply, TextReply)
    return reply.text


async def test_asking_for_a_person_says_whether_staff_are_in_now(
    db_url: str, fake_wechat: object
) -> None:
    from bot.services import open_services

    settings = make_settings(
        db_url,
        fake_wechat.url,  # type: ignore[attr-defined]
        chat={"office_hours": "09:00-12:00,14:00-17:00", "office_phone": "0571-8888 0000"},
    )
    async with open_services(settings) as services:
        tuesday_morning = await _person_at(services, datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI))
        tuesday_night = await _person_at(services, datetime(2026, 12, 1, 21, 0, tzinfo=SHANGHAI))
        saturday = await _person_at(services, datetime(2026, 12, 5, 10, 0, tzinfo=SHANGHAI))
    assert "0571-8888 0000" in tuesday_morning
    assert "09:00-12:00、14:00-17:00" in tuesday_morning
    assert "现在是工作时间" in tuesday_morning
    assert "现在不是工作时间" in tuesday_night
    assert "现在不是工作时间" in saturday
