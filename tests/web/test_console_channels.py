"""The console's campaign list shows reach per channel for a campaign with fallback."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cryptography.fernet import Fernet

from bot.models import Subscriber
from bot.push import campaigns
from bot.push.models import CampaignRun, Delivery
from tests.web.console_helpers import log_in, staff_client, staff_settings


async def test_the_campaign_list_shows_each_channels_reach(db_url: str, fake_wechat: Any) -> None:
    sms = {"secret_id": "AKIDx", "secret_key": "k", "sdk_app_id": "1400000001",
           "sign_name": "青山县政务", "template_id": "100001"}  # fmt: skip
    settings = staff_settings(db_url, fake_wechat.url, sms=sms,
                              privacy={"key": Fernet.generate_key().decode()})  # fmt: skip
    async with staff_client(settings) as client:
        campaign = await campaigns.create(
            {"title": "危房改造补助", "text": "请申请", "channel": "customer",
             "audience": {"everyone": True}, "fallback": ["sms"]},
            campaigns.Actor("李编辑", "editor"), settings,
        )  # fmt: skip
        now = datetime.now(UTC)
        await Subscriber.bulk_create([Subscriber(openid=o) for o in ("o-a", "o-b")])
        wechat = await CampaignRun.create(campaign=campaign, scheduled_for=now, state="done")
        fallback = await CampaignRun.create(campaign=campaign, kind="fallback-sms", channel="sms",
                                            scheduled_for=now, state="done")  # fmt: skip
        await Delivery.create(run=wechat, campaign_id=campaign.id, channel="customer",
                              openid="o-a", state="sent", sent_at=now)  # fmt: skip
        await Delivery.create(run=wechat, campaign_id=campaign.id, channel="customer",
                              openid="o-b", state="skipped")  # fmt: skip
        await Delivery.create(run=fallback, campaign_id=campaign.id, channel="sms", openid="o-b",
                              state="sent", sent_at=now, delivered_at=now, opened=True)  # fmt: skip
        await log_in(client, "tok-editor")
        page = await (await client.get("/admin/campaigns")).text()
    assert "短信：已发送 1 · 失败 0 · 跳过 0 · 已送达 1 · 已打开 1" in page
    assert "客服消息（48 小时内互动的居民）：已发送 1 · 失败 0 · 跳过 1" in page
    assert "微信未送达的居民改用：短信" in page
