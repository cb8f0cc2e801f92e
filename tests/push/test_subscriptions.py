"""Residents manage their subscriptions by chat; unfollow stops every push
at once and a resident who follows again starts with no topics."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.handlers.router import Dispatcher
from bot.handlers.subscriptions import router
from bot.handlers.types import Context, Incoming, TextReply
from bot.models import Subscriber
from bot.push import campaigns
from bot.push.campaigns import Actor
from bot.push.models import CampaignRun, Delivery, DeliveryState
from bot.push.runs import materialize, start_run
from bot.push.subscriptions import on_follow, on_unfollow, topics_of
from bot.services import Services

OPENID = "o-resident-1"


async def say(services: Services, text: str, kind: str = "text") -> str:
    message = Incoming(kind=kind, openid=OPENID, created_at=datetime.now(UTC), text=text)
    route, reply = await Dispatcher([router]).dispatch(
        message, Context(services, message, datetime.now(UTC))
    )
    assert isinstance(reply, TextReply), f"{text!r} not handled ({route})"
    assert len(reply.text.encode()) < 2048
    return reply.text


async def test_chat_commands_subscribe_unsubscribe_and_region(services: Services) -> None:
    assert "救助" in await say(services, "订阅") and "补贴" in await say(services, "订阅")
    assert "已订阅“救助”" in await say(services, "订阅 低保")  # an alias
    assert "无需重复" in await say(services, "订阅救助")  # no space, already subscribed
    assert "已订阅“征收拆迁”" in await say(services, "订阅：拆迁")
    assert "没有找到主题“火星”" in await say(services, "订阅 火星")
    assert "已将您的所在地区设为“城关镇”" in await say(
        services, "地区 城关"
    )  # alias from regions.yaml
    assert "没有找到" in await say(services, "地区 火星村")
    mine = await say(services, "我的订阅")
    assert "救助、征收拆迁" in mine and "城关镇" in mine
    assert mine == await say(
        services, "MY_SUBSCRIPTIONS", kind="click"
    )  # the menu answers the same
    assert "已退订“救助”" in await say(services, "退订 救助")
    assert "您没有订阅“救助”" in await say(services, "退订 救助")
    assert "已退订全部 1 个主题" in await say(services, "退订 全部")
    assert "还没有订阅任何主题" in await say(services, "我的订阅")
    # Not commands: questions that merely start like one go on to search.
    message = Incoming(
        kind="text", openid=OPENID, created_at=datetime.now(UTC), text="我的订阅怎么改"
    )
    assert Dispatcher([router]).route_for(message) is None


async def test_unfollow_stops_pushes_at_once_and_refollow_starts_empty(services: Services) -> None:
    now = datetime.now(UTC)
    await on_follow(OPENID, now)
    await say(services, "订阅 救助")
    await say(services, "地区 东山镇")
    campaign = await campaigns.create(
        {"title": "通知", "text": "内容", "channel": "template", "audience": {"topics": ["relief"]}},
        Actor("小王", "editor"), services.settings,
    )  # fmt: skip
    assert campaign.audience_count == 1
    await campaigns.approve(campaign.id, Actor("老张", "reviewer"))
    run = await CampaignRun.get(campaign_id=campaign.id)
    await start_run(run.id, services.settings)
    await materialize(run.id, services.settings)
    assert await Delivery.filter(run_id=run.id, state=DeliveryState.pending).count() == 1

    await on_unfollow(OPENID, now)
    delivery = await Delivery.get(run_id=run.id)
    assert delivery.state == DeliveryState.skipped and delivery.error_message == "已取消关注"
    assert not (await Subscriber.get(openid=OPENID)).following
    assert await topics_of(OPENID) == []

    await on_follow(OPENID, now)
    resident = await Subscriber.get(openid=OPENID)
    assert resident.following and await topics_of(OPENID) == []
