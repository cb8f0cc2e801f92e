"""Subscribing's promise: publishing a policy with topics prepares one notice for
its subscribers (and the towns it names) through the approval flow, or sends it
at once where push.auto_notify allows; an edit or a re-publish sends nothing more."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest

from bot import privacy
from bot.audit import Actor
from bot.catalog import publishing
from bot.catalog.models import Topic
from bot.catalog.sync import sync_content
from bot.config import Settings
from bot.push import campaigns
from bot.push.models import Campaign, CampaignState, Delivery, NoticeState, PolicyNotice
from bot.push.notify import prepare_pending
from bot.push.runtime import push_runtime
from bot.push.subscriptions import set_region, subscribe_many
from bot.services import open_services
from bot.wechat.fake import FakeWeChat
from tests.conftest import CONTENT, make_settings
from tests.push.conftest import eventually

TODAY = dt.date.today()
POLICY = """\
---
id: qzb-2026-1-winter-relief
title: 青山县关于做好今冬明春困难群众救助工作的通知
issuer: 青山县民政局
written_on: {day}
published_on: {day}
topics: [relief]
summary: {summary}
---

各镇（乡）人民政府：{body}
"""
INTERPRETATION = """\
---
id: jd-qzb-2026-1-winter-relief
title: 一图读懂今冬明春救助
policy: qzb-2026-1-winter-relief
form: 图解
published_on: {day}
---

图解正文。
"""


def _write(content: Path, body: str = "做好救助。", summary: str = "加大临时救助力度。") -> None:
    (content / "policies" / "qzb-2026-1-winter-relief.md").write_text(
        POLICY.format(day=TODAY.isoformat(), body=body, summary=summary), encoding="utf-8"
    )
    (content / "interpretations" / "jd-qzb-2026-1-winter-relief.md").write_text(
        INTERPRETATION.format(day=TODAY.isoformat()), encoding="utf-8"
    )


def _settings(db_url: str, fake: Any, content: Path, **push: Any) -> Settings:
    return make_settings(
        db_url,
        fake.url,
        content_dir=content,
        push={"quiet_hours": "", "rate_per_second": 500, **push},
        wechat={"template_id": "tmpl-policy"},
    )


@pytest.fixture
def content(tmp_path: Path) -> Path:
    folder = tmp_path / "content"
    shutil.copytree(CONTENT, folder)
    return folder


async def _subscribers(*openids: str) -> None:
    relief = await Topic.get(id="relief")
    for openid in openids:
        await subscribe_many(openid, [relief], dt.datetime.now(dt.UTC))


async def test_sync_prepares_one_draft_notice_for_review(
    db_url: str, fake_wechat: FakeWeChat, content: Path
) -> None:
    settings = _settings(db_url, fake_wechat, content)
    async with open_services(settings):
        await sync_content(content)
        await prepare_pending(settings)
        # The sample archive is old news: nothing is announced.
        assert await Campaign.all().count() == 0
        await _subscribers("o-1", "o-2")

        _write(content)
        await sync_content(content)
        assert await prepare_pending(settings) == 1
        campaign = await Campaign.get()
        assert campaign.state == CampaignState.draft  # a reviewer approves it, as any push
        assert campaign.policy_id == "qzb-2026-1-winter-relief"
        assert campaign.interpretation_id == "jd-qzb-2026-1-winter-relief"
        assert campaign.audience["topics"] == ["relief"] and campaign.audience_count == 2
        assert "今冬明春" in campaign.title

        _write(content, body="做好救助工作（修订）。")  # a mere edit
        await sync_content(content)
        assert await prepare_pending(settings) == 0
        assert await Campaign.all().count() == 1

        approved = await campaigns.approve(campaign.id, Actor("老张", "reviewer"))
        assert approved.state == CampaignState.scheduled


async def test_a_policy_naming_a_town_goes_to_that_towns_subscribers(
    db_url: str, fake_wechat: FakeWeChat, content: Path
) -> None:
    settings = _settings(db_url, fake_wechat, content)
    async with open_services(settings):
        await sync_content(content)
        await _subscribers("o-town", "o-elsewhere")
        now = dt.datetime.now(dt.UTC)
        await set_region("o-town", "城关镇", now)
        await set_region("o-elsewhere", "东山镇", now)
        _write(content, summary="城关镇困难群众冬季救助。")
        await sync_content(content)
        await prepare_pending(settings)
        campaign = await Campaign.get()
        assert campaign.audience["regions"] == ["城关镇"] and campaign.audience_count == 1


async def test_auto_notify_sends_at_once_and_only_once(
    db_url: str, fake_wechat: FakeWeChat, content: Path
) -> None:
    settings = _settings(db_url, fake_wechat, content, auto_notify=True)
    async with open_services(settings) as services:
        await sync_content(content)
        await _subscribers("o-fake-000001", "o-fake-000002")
        async with push_runtime(services):
            _write(content)
            await sync_content(content)

            async def sent() -> bool:
                return all(fake_wechat.messages(o) for o in ("o-fake-000001", "o-fake-000002"))

            await eventually(sent)
            campaign = await Campaign.get()
            assert campaign.approver and "auto_notify" in campaign.approver
            _write(content, body="再次修订。")
            await sync_content(content)
            assert await prepare_pending(settings) == 0
        assert await Campaign.all().count() == 1
        assert len(fake_wechat.messages("o-fake-000001")) == 1
        message = fake_wechat.messages("o-fake-000001")[0]
        # The template links through the signed open link (/r/…) to the new policy.
        token = message["payload"]["url"].rsplit("/r/", 1)[1]
        delivery = await Delivery.get(id=int(privacy.unsign("open", token) or 0))
        assert (await Campaign.get(id=delivery.campaign_id)).policy_id == "qzb-2026-1-winter-relief"


async def test_auto_notify_waits_out_quiet_hours(
    db_url: str, fake_wechat: FakeWeChat, content: Path
) -> None:
    local = dt.datetime.now(dt.timezone(dt.timedelta(hours=8)))
    window = f"{(local - dt.timedelta(hours=1)):%H:%M}-{(local + dt.timedelta(hours=1)):%H:%M}"
    settings = _settings(db_url, fake_wechat, content, auto_notify=True, quiet_hours=window)
    async with open_services(settings):
        await sync_content(content)
        await _subscribers("o-fake-000001")
        _write(content)
        await sync_content(content)
        await prepare_pending(settings)
        campaign = await Campaign.get()
        assert campaign.state == CampaignState.scheduled
        assert campaign.send_at is not None
        assert campaign.send_at > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=50)


async def test_console_publish_prepares_the_notice_once(
    db_url: str, fake_wechat: FakeWeChat, content: Path
) -> None:
    settings = _settings(db_url, fake_wechat, content)
    async with open_services(settings):
        await sync_content(content)
        await _subscribers("o-1")
        editor, reviewer = Actor("李编辑", "editor"), Actor("王审核", "reviewer")
        body = {
            "id": "qzb-2026-2-console",
            "title": "后台发布的救助政策",
            "issuer": "青山县民政局",
            "written_on": TODAY.isoformat(),
            "topics": ["relief"],
            "body": "正文。",
        }
        await publishing.create_policy(body, editor)
        await publishing.submit("qzb-2026-2-console", editor)
        await _publish_working("qzb-2026-2-console", reviewer)
        assert (await PolicyNotice.get(policy_id="qzb-2026-2-console")).state == NoticeState.pending
        assert await prepare_pending(settings) == 1
        assert (await Campaign.get()).policy_id == "qzb-2026-2-console"
        # A correction published later is a mere edit: no second notice.
        await publishing.update_policy(
            "qzb-2026-2-console", {**body, "body": "更正后的正文。"}, editor
        )
        await publishing.submit("qzb-2026-2-console", editor)
        await _publish_working("qzb-2026-2-console", reviewer)
        assert await prepare_pending(settings) == 0
        assert await Campaign.all().count() == 1


async def _publish_working(policy_id: str, reviewer: Actor) -> None:
    """Publish the submitted version with the hash a reviewer would have read."""
    version = await publishing.working_version(policy_id)
    assert version is not None
    await publishing.publish(policy_id, reviewer, TODAY, version.content_hash)
