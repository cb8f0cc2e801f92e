"""The console offers SMS/email as a fallback after WeChat and reports reach per channel."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cryptography.fernet import Fernet

from bot.models import Subscriber
from bot.push.models import Campaign, CampaignRun, Delivery
from tests.web.console_helpers import log_in, staff_client, staff_settings


async def test_compose_offers_a_fallback_and_the_campaign_shows_each_channels_reach(
    db_url: str, fake_wechat: Any
) -> None:
    sms = {"secret_id": "AKIDx", "secret_key": "k", "sdk_app_id": "1400000001",
           "sign_name": "青山县政务", "template_id": "100001"}  # fmt: skip
    settings = staff_settings(db_url, fake_wechat.url, sms=sms,
                              privacy={"key": Fernet.generate_key().decode()})  # fmt: skip
    async with staff_client(settings) as client:
        csrf = await log_in(client, "tok-editor-7f3a9c2e5b8d1f4a")
        compose = await (await client.get("/admin/campaigns/new")).text()
        assert 'name="fallback" value="sms"' in compose
        assert "未配置邮件" in compose  # email is shown but cannot be chosen
        body = {"csrf": csrf, "title": "危房改造补助", "text": "请申请", "channel": "customer",
                "everyone": "1", "when": "now", "fallback": "sms"}  # fmt: skip
        created = await client.post("/admin/campaigns/new", data=body)
        assert created.status == 200
        campaign = await Campaign.get(title="危房改造补助")
        assert campaign.fallback == ["sms"]
        refused = await client.post(
            "/admin/campaigns/new", data={**body, "title": "邮件补发", "fallback": "email"}
        )
        assert refused.status == 422 and "fallback 渠道未配置：email" in await refused.text()

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
        page = await (await client.get(f"/admin/campaigns/{campaign.id}")).text()
        listing = await (await client.get("/admin/campaigns")).text()
    row = '<th scope="row">短信</th><td>1</td><td>0</td><td>0</td><td>0</td><td>1</td><td>1</td>'
    assert row in page
    assert '<th scope="row">客服消息</th><td>1</td><td>0</td><td>1</td><td>0</td>' in page
    assert "微信未送达的居民改用：短信" in page and "微信未送达的居民改用：短信" in listing
