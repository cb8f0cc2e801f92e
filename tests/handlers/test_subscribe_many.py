"""`订阅 救助 医保 养老` and `订阅 全部` work like their `退订` counterparts."""

from __future__ import annotations

from bot.catalog.models import Topic
from bot.push.subscriptions import topics_of
from bot.services import Services
from tests.handlers.chat import OPENID, say


async def _mine() -> list[str]:
    return [t.name for t in await topics_of(OPENID)]


async def test_several_topics_in_one_message(synced: Services) -> None:
    reply = await say(synced, "订阅 救助 医保 养老")
    assert "已订阅“救助”、“医保”、“养老”" in reply
    assert set(await _mine()) == {"救助", "医保", "养老"}
    again = await say(synced, "订阅 低保、就业和火星")  # an alias, a new topic, an unknown word
    assert "已订阅“就业”" in again and "“救助”您已订阅过" in again
    assert "没有找到主题“火星”" in again
    assert set(await _mine()) == {"救助", "医保", "养老", "就业"}
    gone = await say(synced, "退订 医保，养老")
    assert "已退订“医保”、“养老”" in gone
    assert set(await _mine()) == {"救助", "就业"}
    assert "您没有订阅“医保”" in await say(synced, "退订 医保 救助")
    assert await _mine() == ["就业"]


async def test_subscribe_all_then_unsubscribe_all(synced: Services) -> None:
    every = await Topic.all().count()
    assert every > 3
    reply = await say(synced, "订阅 全部")
    assert "已订阅" in reply and "没有找到" not in reply
    assert len(await _mine()) == every
    assert "无需重复" in await say(synced, "订阅全部")
    assert f"已退订全部 {every} 个主题" in await say(synced, "退订 全部")
    assert await _mine() == []


async def test_nothing_known_subscribes_nothing(synced: Services) -> None:
    reply = await say(synced, "订阅 火星 木星")
    assert "没有找到主题“火星”、“木星”" in reply and "可订阅的主题" in reply
    assert await _mine() == []
