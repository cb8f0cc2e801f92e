"""WeChat first, then SMS or email to whom WeChat could not reach: each resident the
template send missed gets the notice once, by the first fallback channel they
have a contact and consent for; nobody WeChat reached gets it again."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.catalog.models import Topic
from bot.contacts import record
from bot.errors import Invalid
from bot.push import campaigns
from bot.push.campaigns import Actor
from bot.push.models import Campaign, CampaignRun, CampaignState
from bot.push.runtime import push_runtime, wake
from bot.services import Services, open_services
from bot.sms.fake import FakeSms
from bot.wechat.fake import FakeWeChat
from tests.push.conftest import add_residents, eventually, fake_ids, push_settings
from tests.push.test_email import KEY, Mailbox
from tests.push.test_email import smtp as smtp
from tests.push.test_sms import sms_section


@pytest.fixture
async def services(
    db_url: str, fake_wechat: FakeWeChat, fake_sms: FakeSms, smtp: tuple[Mailbox, int]
) -> AsyncIterator[Services]:
    email = {"host": "127.0.0.1", "port": smtp[1], "username": "notice", "password": "pw",
             "from": "notice@qingshan.gov.cn"}  # fmt: skip
    sections = {"sms": sms_section(fake_sms), "email": email, "privacy": {"key": KEY}}
    settings = push_settings(db_url, fake_wechat.url, sections, fallback_delay_seconds=0)
    async with open_services(settings) as svc:
        await Topic.create(id="relief", name="救助")
        yield svc


async def test_residents_wechat_missed_get_the_first_fallback_they_consented_to_once(
    services: Services, fake_wechat: FakeWeChat, fake_sms: FakeSms, smtp: tuple[Mailbox, int]
) -> None:
    box = smtp[0]
    r = fake_ids(1, 6)
    await add_residents(r, topics=["relief"])
    fake_wechat.unfollow(*r[2:])  # WeChat answers 43004 for residents 3-6
    await record(r[0], phone="13900000001", source="staff")  # reached by WeChat: no SMS
    await record(r[2], phone="13900000003", source="staff")
    await record(r[3], phone="13900000004", email="r4@example.cn", source="staff")
    await record(r[4], email="r5@example.cn", source="staff")
    # r[5] gave nothing: unreachable, recorded as such.
    campaign = await campaigns.create(
        {"title": "危房改造补助申请", "text": "请于月底前申请。", "channel": "template",
         "audience": {"topics": ["relief"]}, "fallback": ["sms", "email"]},
        Actor("小王", "editor"), services.settings,
    )  # fmt: skip
    await campaigns.approve(campaign.id, Actor("老张", "reviewer"))
    async with push_runtime(services):
        await wake(services)

        async def done() -> Campaign | None:
            c = await Campaign.get(id=campaign.id)
            runs = await CampaignRun.filter(campaign_id=campaign.id, kind__startswith="fallback")
            return c if c.state == CampaignState.done and len(runs) == 2 else None

        finished = await eventually(done, timeout=40)
    summary = await campaigns.summary(finished)
    by_channel = summary["by_channel"]
    assert by_channel["template"] == {"pending": 0, "sent": 2, "failed": 4, "skipped": 0}
    assert by_channel["sms"] == {"pending": 0, "sent": 2, "failed": 0, "skipped": 0}
    assert by_channel["email"] == {"pending": 0, "sent": 1, "failed": 0, "skipped": 0}
    assert fake_sms.messages("13900000001") == []
    assert len(fake_sms.messages("13900000003")) == 1
    assert len(fake_sms.messages("13900000004")) == 1 and box.to("r4@example.cn") == []
    assert len(box.to("r5@example.cn")) == 1
    assert fake_sms.total_accepted == 2 and len(box.mails) == 1


async def test_fallback_names_configured_non_wechat_channels_only(services: Services) -> None:
    base = {"title": "通知", "text": "内容", "audience": {"everyone": True}}
    with pytest.raises(Invalid, match="fallback 应为"):
        await campaigns.create({**base, "channel": "template", "fallback": ["fax"]},
                               Actor("小王", "editor"), services.settings)  # fmt: skip
    with pytest.raises(Invalid, match="只用于微信渠道"):
        await campaigns.create({**base, "channel": "sms", "fallback": ["email"]},
                               Actor("小王", "editor"), services.settings)  # fmt: skip
