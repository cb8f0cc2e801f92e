"""Scheduling from the database: runs missed while the service was down,
runs still within their grace window, repeating campaigns catching up, and
quiet hours that postpone without dropping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.push import campaigns
from bot.push.campaigns import Actor
from bot.push.clock import quiet_until
from bot.push.models import Campaign, CampaignRun, CampaignState, RunState
from bot.push.runtime import push_runtime
from bot.services import Services
from bot.wechat.fake import FakeWeChat
from tests.push.conftest import add_residents, eventually, fake_ids

EDITOR, REVIEWER = Actor("小王", "editor"), Actor("老张", "reviewer")
SH = ZoneInfo("Asia/Shanghai")


async def _approved(services: Services, **body: Any) -> Campaign:
    data = {"title": "救灾补助发放", "text": "请留意发放时间。", "channel": "template",
            "audience": {"topics": ["relief"]}, **body}  # fmt: skip
    campaign = await campaigns.create(data, EDITOR, services.settings)
    return await campaigns.approve(campaign.id, REVIEWER)


async def test_downtime_runs_within_grace_and_marks_older_ones_missed(
    services: Services, fake_wechat: FakeWeChat
) -> None:
    await add_residents(fake_ids(1, 5), topics=["relief"])
    now = datetime.now(UTC)
    late = await _approved(services)
    lost = await _approved(services, title="过期的通知")
    # As if the service had been down: one send due 10 minutes ago, one 2 hours ago (grace 1 h).
    await CampaignRun.filter(campaign_id=late.id).update(scheduled_for=now - timedelta(minutes=10))
    await CampaignRun.filter(campaign_id=lost.id).update(scheduled_for=now - timedelta(hours=2))
    cron = await _approved(services, title="每周提醒", cron="*/30 * * * *")
    await Campaign.filter(id=cron.id).update(approved_at=now - timedelta(hours=5))

    async with push_runtime(services):

        async def settled() -> bool:
            states = {c.id: c.state for c in await Campaign.all()}
            return (
                states[late.id] == CampaignState.done
                and states[cron.id] == CampaignState.scheduled
                and await CampaignRun.filter(campaign_id=cron.id, state=RunState.done).exists()
            )

        await eventually(settled)

    assert all(
        len(fake_wechat.messages(o)) == 2 for o in fake_ids(1, 5)
    )  # the late one + one cron catch-up
    lost_run = await CampaignRun.get(campaign_id=lost.id)
    assert lost_run.state == RunState.missed and "missed" in lost_run.note
    assert (
        await Campaign.get(id=lost.id)
    ).state == CampaignState.failed  # visible, not dropped silently
    cron_runs = await CampaignRun.filter(campaign_id=cron.id).order_by("scheduled_for")
    missed = [r for r in cron_runs if r.state == RunState.missed]
    done = [r for r in cron_runs if r.state == RunState.done]
    assert len(done) == 1 and done[0].scheduled_for > now - timedelta(hours=1)
    assert len(missed) >= 7 and all(r.scheduled_for < now - timedelta(hours=1) for r in missed)


async def test_quiet_hours_postpone_a_send_and_never_drop_it(
    services: Services, fake_wechat: FakeWeChat
) -> None:
    local = datetime.now(SH)
    window = f"{(local - timedelta(hours=1)):%H:%M}-{(local + timedelta(hours=1)):%H:%M}"
    services.settings = services.settings.model_copy(
        update={"push": services.settings.push.model_copy(update={"quiet_hours": window})}
    )
    await add_residents(fake_ids(1, 3), topics=["relief"])
    campaign = await _approved(services)
    async with push_runtime(services):

        async def postponed() -> CampaignRun | None:
            run = await CampaignRun.get(campaign_id=campaign.id)
            return run if run.note and "quiet hours" in run.note else None

        run = await eventually(postponed)
    assert run.state == RunState.pending
    assert run.scheduled_for > datetime.now(UTC) + timedelta(minutes=50)  # the end of the window
    assert (await Campaign.get(id=campaign.id)).state == CampaignState.scheduled
    assert fake_wechat.total_delivered == 0


def test_quiet_window_across_midnight() -> None:
    at = datetime(2025, 3, 1, 23, 30, tzinfo=SH)
    assert quiet_until(at, "22:00-08:00", SH) == datetime(2025, 3, 2, 8, 0, tzinfo=SH)
    assert quiet_until(at.replace(hour=7), "22:00-08:00", SH) == datetime(
        2025, 3, 1, 8, 0, tzinfo=SH
    )
    assert quiet_until(at.replace(hour=12), "22:00-08:00", SH) is None
    assert quiet_until(at.replace(hour=12, minute=30), "12:00-13:00", SH) == datetime(
        2025, 3, 1, 13, 0, tzinfo=SH
    )
    assert quiet_until(at, "", SH) is None
