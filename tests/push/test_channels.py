"""Each channel under WeChat's rules: mass by tag (topics kept as tags) or by
openid list with a deterministic clientmsgid and the monthly quota; customer
messages only inside the 48 h window; 订阅通知 declined by a resident."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.catalog.models import Topic
from bot.models import Subscriber
from bot.push import campaigns
from bot.push.campaigns import Actor
from bot.push.models import Campaign, CampaignRun, CampaignState, Delivery, RunState, TagMember
from bot.push.runtime import push_runtime, wake
from bot.services import Services
from bot.wechat.fake import FakeWeChat
from tests.push.conftest import add_residents, eventually, fake_ids

EDITOR, REVIEWER = Actor("小王", "editor"), Actor("老张", "reviewer")


async def _send(services: Services, channel: str, audience: dict[str, Any]) -> dict[str, Any]:
    campaign = await campaigns.create(
        {"title": "补贴发放通知", "text": "请核对银行卡。", "channel": channel, "audience": audience},
        EDITOR, services.settings,
    )  # fmt: skip
    await campaigns.approve(campaign.id, REVIEWER)
    await wake(services)  # as the admin API does after an approval

    async def finished() -> Campaign | None:
        c = await Campaign.get(id=campaign.id)
        return c if c.state in (CampaignState.done, CampaignState.failed) else None

    return await campaigns.report(await eventually(finished))


async def test_mass_sends_by_tag_and_by_openid_list_once_each(
    services: Services, fake_wechat: FakeWeChat
) -> None:
    await add_residents(fake_ids(1, 6), topics=["relief"])
    await add_residents(fake_ids(7, 9), topics=["subsidies"])
    # o-fake-000007 already had this month's four mass sends.
    for i in range(4):
        earlier = await Campaign.create(
            title=f"早前群发 {i}", channel="mass", author="小王", state="done"
        )
        run = await CampaignRun.create(
            campaign=earlier, scheduled_for=datetime.now(UTC), state=RunState.done
        )
        await Delivery.create(
            run=run,
            campaign_id=earlier.id,
            channel="mass",
            openid="o-fake-000007",
            state="sent",
            sent_at=datetime.now(UTC),
            chunk=0,
        )

    async with push_runtime(services):
        # One topic: the topic becomes a WeChat tag, its subscribers are tagged, the tag is sent to.
        report = await _send(services, "mass", {"topics": ["relief"]})
        assert report["counts"]["sent"] == 6
        topic = await Topic.get(id="relief")
        assert topic.wechat_tag_id is not None
        assert await TagMember.filter(tag_id=topic.wechat_tag_id).count() == 6
        job = fake_wechat.mass_jobs[-1]
        assert job["target"] == {"tag_id": topic.wechat_tag_id} and job["sent"] == 6
        assert (
            job["clientmsgid"].startswith("policybot-c") and len(job["clientmsgid"].encode()) <= 64
        )

        # Two topics: an openid list. WeChat's answer is lost once; the retry carries the same
        # clientmsgid, WeChat answers 45065 with the earlier msg_id, and nobody gets it twice.
        fake_wechat.configure(ack_loss_rate=1.0)
        report = await _send(services, "mass", {"topics": ["relief", "subsidies"]})
        fake_wechat.configure(ack_loss_rate=0.0)
    assert report["counts"] == {"pending": 0, "sent": 8, "failed": 0, "skipped": 1}
    assert report["skipped_reasons"] == {"本月群发已达 4 次上限": 1}
    assert fake_wechat.answers_lost >= 1 and fake_wechat.deduplicated >= 1
    assert all(len(fake_wechat.messages(o)) == 2 for o in fake_ids(1, 6))
    assert all(len(fake_wechat.messages(o)) == 1 for o in fake_ids(8, 9))
    assert fake_wechat.messages("o-fake-000007") == []
    assert fake_wechat.duplicates == 0


async def test_customer_messages_only_reach_residents_active_within_48_hours(
    services: Services, fake_wechat: FakeWeChat
) -> None:
    now = datetime.now(UTC)
    await add_residents(fake_ids(1, 2), topics=["relief"], last_active_at=now - timedelta(hours=1))
    await add_residents(
        ["o-fake-000003"], topics=["relief"], last_active_at=now - timedelta(days=3)
    )
    await add_residents(["o-fake-000004"], topics=["relief"])
    fake_wechat.mark_active("o-fake-000001", "o-fake-000002")
    async with push_runtime(services):
        report = await _send(services, "customer", {"topics": ["relief"]})
    assert report["counts"] == {"pending": 0, "sent": 2, "failed": 0, "skipped": 2}
    assert report["skipped_reasons"] == {"48 小时内未与公众号互动": 2}
    assert [m["kind"] for m in fake_wechat.messages("o-fake-000001")] == ["custom"]
    assert "补贴发放通知" in fake_wechat.messages("o-fake-000001")[0]["payload"]["text"]["content"]


async def test_subscribe_messages_record_a_resident_who_declined(
    services: Services, fake_wechat: FakeWeChat
) -> None:
    services.settings = services.settings.model_copy(
        update={
            "wechat": services.settings.wechat.model_copy(update={"use_subscribe_message": True})
        }
    )
    await add_residents(fake_ids(1, 3), topics=["relief"])
    fake_wechat.configure(declined=["o-fake-000002"])
    async with push_runtime(services):
        report = await _send(services, "template", {"topics": ["relief"]})
    assert report["counts"]["sent"] == 2 and report["errors"] == {"43101": 1}
    assert [m["kind"] for m in fake_wechat.messages("o-fake-000001")] == ["subscribe"]
    declined = await Subscriber.get(openid="o-fake-000002")
    assert declined.blocked_reason == "43101 拒收订阅通知"
