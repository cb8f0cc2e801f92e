"""WeChat first, then SMS or email to whom WeChat could not reach: each resident the
template send missed gets the notice once, by the first fallback channel they
have a contact and consent for; nobody WeChat reached gets it again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

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


async def test_sms_waits_out_quiet_hours_and_a_retry_never_repeats_a_fallback(
    services: Services, fake_wechat: FakeWeChat, fake_sms: FakeSms
) -> None:
    from bot.push.runs import start_run

    r = fake_ids(1, 2)
    await add_residents(r, topics=["relief"])
    fake_wechat.unfollow(r[1])
    await record(r[1], phone="13900000002", source="staff")
    campaign = await campaigns.create(
        {"title": "通知", "text": "内容", "channel": "template",
         "audience": {"topics": ["relief"]}, "fallback": ["sms"]},
        Actor("小王", "editor"), services.settings,
    )  # fmt: skip
    await campaigns.approve(campaign.id, Actor("老张", "reviewer"))
    async with push_runtime(services):
        await wake(services)

        async def fallback_done() -> bool:
            run = await CampaignRun.get_or_none(campaign_id=campaign.id, kind="fallback-sms")
            return run is not None and run.state == "done"

        await eventually(fallback_done, timeout=40)
    assert len(fake_sms.messages("13900000002")) == 1
    # The resident WeChat refused got the SMS: retrying the failed WeChat row leaves them alone.
    assert await campaigns.retry_failed(campaign.id, Actor("小王", "editor")) == 0

    # In quiet hours a fallback run is postponed to the window's end, never sent.
    quiet = services.settings.model_copy(
        update={"push": services.settings.push.model_copy(update={"quiet_hours": "00:00-23:59"})}
    )
    await Campaign.filter(id=campaign.id).update(state="scheduled")  # as while a fallback waits
    run = await CampaignRun.create(campaign_id=campaign.id, kind="fallback-sms",
                                   channel="sms", scheduled_for=datetime.now(UTC))  # fmt: skip
    assert await start_run(run.id, quiet) is False
    postponed = await CampaignRun.get(id=run.id)
    assert postponed.state == "pending" and postponed.scheduled_for > datetime.now(UTC)
    assert fake_sms.total_accepted == 1
