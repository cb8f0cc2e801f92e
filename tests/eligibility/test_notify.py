"""Policies find people, on both databases: a published or changed rule drafts one
campaign for the consenting residents it matches (count shown before approval),
dated rules make reminders, each resident is told once per policy, and one who
withdraws between matching and sending is skipped."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest

from bot.audit import Actor
from bot.catalog import publishing
from bot.catalog.sync import sync_content
from bot.config import Settings
from bot.eligibility import notify, profile
from bot.eligibility.models import EligibilityNotice
from bot.errors import DomainError
from bot.models import Subscriber
from bot.push import campaigns, runs
from bot.push.models import Campaign, CampaignRun, CampaignState, Delivery, DeliveryState
from bot.push.runtime import push_runtime
from bot.services import open_services
from bot.wechat.fake import FakeWeChat
from tests.conftest import CONTENT, make_settings
from tests.push.conftest import eventually

ELDERLY = "policies/qmf-2024-20-elderly-allowance.md"
REVIEWER = Actor("老张", "reviewer")


def _settings(db_url: str, fake: Any, content: Path) -> Settings:
    return make_settings(
        db_url, fake.url, content_dir=content,
        push={"quiet_hours": "", "rate_per_second": 500},
        wechat={"template_id": "tmpl-policy"},
    )  # fmt: skip


def _born(years: int, months: int = 0) -> str:
    """The birth month of someone ``years`` (and ``months``) old this month."""
    today = dt.date.today()
    index = today.year * 12 + today.month - 1 - years * 12 - months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@pytest.fixture
def content(tmp_path: Path) -> Path:
    folder = tmp_path / "content"
    shutil.copytree(CONTENT, folder)
    return folder


async def _residents(**people: Any) -> None:
    now = dt.datetime.now(dt.UTC)
    for openid, answers in people.items():
        await Subscriber.create(openid=openid, following=True, followed_at=now)
        await profile.save(openid, answers, now)


def _edit(content: Path, rel: str, old: str, new: str) -> None:
    path = content / rel
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


async def test_a_changed_rule_drafts_one_campaign_for_those_it_matches(
    db_url: str, fake_wechat: FakeWeChat, content: Path
) -> None:
    settings = _settings(db_url, fake_wechat, content)
    async with open_services(settings):
        await sync_content(content)
        now = dt.datetime.now(dt.UTC)
        assert await notify.prepare_pending(settings, now) == 0  # nobody agreed yet
        rural = {"hukou": ["农村"]}
        await _residents(
            **{
                "o-fake-000001": {"age": _born(82), **rural},
                "o-fake-000002": {"age": _born(85), **rural},
                "o-fake-000003": {"age": _born(50), **rural},
                "o-fake-000004": {"age": _born(90), "hukou": ["城镇"]},
                "o-fake-000005": {"hukou": ["农村"]},  # age unknown: never matched
            }
        )
        await Subscriber.create(openid="o-fake-000006", following=True, followed_at=now)
        # The county limits the allowance to rural residents: the rule changed.
        _edit(content, ELDERLY, "    - hukou: [城镇, 农村]", "    - hukou: [农村]")
        await sync_content(content)
        assert await notify.prepare_pending(settings, now) == 1
        campaign = await Campaign.get()
        assert campaign.state == CampaignState.draft and campaign.audience_count == 2
        assert campaign.policy_id == "qmf-2024-20-elderly-allowance"
        assert "可能符合" in campaign.title and "高龄津贴每人每月" in campaign.text
        assert "o-fake" not in str(campaign.audience)  # the audience is a batch, not openids

        # Re-syncing or matching again tells nobody twice.
        await sync_content(content)
        assert await notify.prepare_pending(settings, now) == 0
        # A resident withdraws after matching, before approval: the count shown drops.
        await profile.forget("o-fake-000002")
        assert (await campaigns.summary(campaign))["audience_count"] == 1

        await campaigns.approve(campaign.id, REVIEWER)
        run = await CampaignRun.get(campaign_id=campaign.id)
        assert await runs.start_run(run.id, settings)
        await runs.materialize(run.id, settings)
        frozen = set(await Delivery.filter(run_id=run.id).values_list("openid", flat=True))
        assert frozen == {"o-fake-000001"}


async def test_a_resident_who_withdraws_after_the_audience_is_frozen_is_skipped(
    db_url: str, fake_wechat: FakeWeChat, content: Path
) -> None:
    settings = _settings(db_url, fake_wechat, content)
    async with open_services(settings) as services:
        await sync_content(content)
        now = dt.datetime.now(dt.UTC)
        await notify.prepare_pending(settings, now)
        await _residents(
            **{o: {"age": _born(81), "hukou": ["农村"]} for o in ("o-fake-000001", "o-fake-000002")}
        )
        _edit(content, ELDERLY, "    - hukou: [城镇, 农村]", "    - hukou: [农村]")
        await sync_content(content)
        await notify.prepare_pending(settings, now)
        campaign = await Campaign.get()
        await campaigns.approve(campaign.id, REVIEWER)
        run = await CampaignRun.get(campaign_id=campaign.id)
        await runs.start_run(run.id, settings)
        await runs.materialize(run.id, settings)
        await profile.forget("o-fake-000002")  # between matching and sending
        async with push_runtime(services):
            await eventually(lambda: _sent("o-fake-000001", fake_wechat))
        skipped = await Delivery.get(run_id=run.id, openid="o-fake-000002")
        assert skipped.state == DeliveryState.skipped
        assert not fake_wechat.messages("o-fake-000002")
        assert not await EligibilityNotice.filter(openid="o-fake-000002").exists()


async def _sent(openid: str, fake: FakeWeChat) -> bool:
    return bool(fake.messages(openid))


async def test_a_birthday_next_month_and_a_closing_window_make_one_reminder_each(
    db_url: str, fake_wechat: FakeWeChat, content: Path
) -> None:
    settings = _settings(db_url, fake_wechat, content)
    soon = (dt.date.today() + dt.timedelta(days=5)).isoformat()
    _edit(content, "policies/qtj-2024-9-veteran-preferential.md",
          "  where: 县退役军人服务中心", f"  apply_by: {soon}\n  where: 县退役军人服务中心")  # fmt: skip
    async with open_services(settings):
        await sync_content(content)
        now = dt.datetime.now(dt.UTC)
        await notify.prepare_pending(settings, now)  # nobody yet: no campaigns
        await _residents(
            **{
                "o-nearly-80": {"age": _born(79, 11), "hukou": ["农村"]},
                "o-is-80": {"age": _born(80), "hukou": ["农村"]},
                "o-veteran": {"veteran": True, "hukou": ["城镇"]},
            }
        )
        assert await notify.remind(settings, now) == 2
        by_policy = {c.policy_id: c for c in await Campaign.all()}
        birthday = by_policy["qmf-2024-20-elderly-allowance"]
        assert birthday.title.startswith("提醒：") and birthday.audience_count == 1
        assert "下个月起可能符合" in birthday.text
        notices = await EligibilityNotice.filter(policy_id="qmf-2024-20-elderly-allowance")
        assert [n.openid for n in notices] == ["o-nearly-80"]  # not the one already 80
        deadline = by_policy["qtj-2024-9-veteran-preferential"]
        assert soon in deadline.text and deadline.audience_count == 1
        # One reminder per policy per resident: the next day's run adds nothing.
        assert await notify.remind(settings, now + dt.timedelta(days=1)) == 0


async def test_a_policy_published_through_the_admin_api_finds_its_residents(
    db_url: str, fake_wechat: FakeWeChat, content: Path
) -> None:
    settings = _settings(db_url, fake_wechat, content)
    async with open_services(settings):
        await sync_content(content)
        now = dt.datetime.now(dt.UTC)
        await notify.prepare_pending(settings, now)
        await _residents(
            **{"o-fake-000001": {"newborn": True}, "o-fake-000002": {"newborn": False}}
        )
        editor, reviewer = Actor("李编辑", "editor"), Actor("王审核", "reviewer")
        draft = {
            "id": "qwj-2026-1-newborn-gift",
            "title": "青山县新生儿健康礼包发放办法",
            "issuer": "青山县卫生健康局",
            "written_on": dt.date.today().isoformat(),
            "body": "正文。",
        }
        with pytest.raises(DomainError, match="newborn 应为 true 或 false"):
            await publishing.create_policy(
                {**draft, "eligibility": {"all": [{"newborn": "有"}], "gives": "礼包"}}, editor
            )
        rule = {"all": [{"newborn": True}], "gives": "新生儿健康礼包一份", "where": "乡镇卫生院"}
        await publishing.create_policy({**draft, "eligibility": rule}, editor)
        await publishing.submit(draft["id"], editor)
        version = await publishing.working_version(draft["id"])
        assert version is not None  # published with the hash the reviewer read
        await publishing.publish(draft["id"], reviewer, dt.date.today(), version.content_hash)
        assert await notify.prepare_pending(settings, now) == 1
        campaign = await Campaign.get(policy_id=draft["id"])
        assert campaign.audience_count == 1 and "新生儿健康礼包一份" in campaign.text
