"""Subscribing's promise: a newly published policy is announced to the residents
subscribed to its topics (and in the towns it names), once.

Two steps, so that publishing stays one transaction and knows nothing of pushes:

1. ``policies_published`` is called by whatever marks policies published
   (``content sync``, the console/admin API's publish), inside its transaction.
   It records a ``PolicyNotice`` only for a policy that never had one: an edit,
   a re-sync or a withdraw-and-publish-again finds the row and adds nothing, so
   a policy and its interpretations make one notice, ever.
2. ``prepare_pending``, run by the push scheduler, turns each pending notice
   into a campaign through the ordinary campaign rules: a draft a reviewer
   approves, or — where ``push.auto_notify`` allows — approved at once. Either
   way the send goes through runs, so quiet hours postpone it, never drop it.

Documents imported with an old 发布日期 (an archive loaded into a new
deployment) are not announced: they are not news to anyone.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from bot.audit import Actor
from bot.catalog import events
from bot.catalog.models import Interpretation, Policy, Status
from bot.config import Settings
from bot.errors import DomainError
from bot.push import audience, campaigns
from bot.push.clock import quiet_until, utcnow
from bot.push.models import NoticeState, PolicyNotice
from bot.push.regions import known_regions

log = logging.getLogger("bot.push")

AUTHOR = Actor("新政策通知", "system")  # the notice's author, shown to reviewers
AUTO_APPROVER = Actor("自动通知（push.auto_notify）", "system")
NEWS_DAYS = 30  # a policy published longer ago than this is not announced


@events.on_policies_published
async def policies_published(policy_ids: Iterable[str], conn: BaseDBAsyncClient) -> None:
    """Note that these policies were just published (inside the publishing transaction)."""
    rows = [PolicyNotice(policy_id=pid) for pid in dict.fromkeys(policy_ids)]
    if rows:
        await PolicyNotice.bulk_create(rows, ignore_conflicts=True, using_db=conn)


async def prepare_pending(settings: Settings, now: dt.datetime | None = None) -> int:
    """Prepare every pending notice; returns how many campaigns were created."""
    now = now or utcnow()
    created = 0
    for policy_id in await PolicyNotice.filter(state=NoticeState.pending).values_list(
        "policy_id", flat=True
    ):
        claimed = await PolicyNotice.filter(policy_id=policy_id, state=NoticeState.pending).update(
            state=NoticeState.preparing
        )
        if not claimed:
            continue  # another worker has it
        try:
            state, campaign_id, note = await _prepare(str(policy_id), settings, now)
        except Exception as exc:  # the notice must not block the others; staff see why
            log.exception("preparing a policy notice failed", extra={"policy": policy_id})
            state, campaign_id, note = NoticeState.skipped, None, f"准备失败：{exc}"[:255]
        await PolicyNotice.filter(policy_id=policy_id).update(
            state=state, campaign_id=campaign_id, note=note
        )
        created += campaign_id is not None
    return created


async def _prepare(
    policy_id: str, settings: Settings, now: dt.datetime
) -> tuple[NoticeState, int | None, str]:
    policy = await Policy.get_or_none(id=policy_id)
    if policy is None or policy.status != Status.published:
        return NoticeState.skipped, None, "政策已不在发布状态"
    today = now.astimezone(settings.server.tz).date()
    if policy.published_on and policy.published_on < today - dt.timedelta(days=NEWS_DAYS):
        return NoticeState.skipped, None, f"发布日期早于 {NEWS_DAYS} 天前，不作为新政策通知"
    topics = [str(t) for t in await policy.topics.all().values_list("id", flat=True)]
    if not topics:
        return NoticeState.skipped, None, "政策没有主题（topics），无人订阅"
    towns = await _towns_named(policy, settings)
    wanted: dict[str, Any] = {"topics": topics, "regions": towns}
    if not await audience.count(wanted):
        return NoticeState.skipped, None, "暂无订阅该主题的居民"
    interpretation = (
        await Interpretation.filter(policy_id=policy.id, status=Status.published)
        .order_by("published_on", "id")
        .first()
    )
    body: dict[str, Any] = {
        "title": f"新政策：{policy.title}"[:128],
        "policy_id": policy.id,
        "interpretation_id": interpretation.id if interpretation else None,
        "audience": wanted,
        "channel": settings.push.notify_channel,
    }
    if settings.push.auto_notify:
        until = quiet_until(now, settings.push.quiet_hours, settings.server.tz)
        if until is not None:  # shown as the send time; the run would wait anyway
            body["send_at"] = until.isoformat()
    try:
        campaign = await campaigns.create(body, AUTHOR, settings)
        if settings.push.auto_notify:
            await campaigns.approve(campaign.id, AUTO_APPROVER)
    except DomainError as exc:  # e.g. no template configured: kept on the notice and logged
        log.warning("policy notice not prepared", extra={"policy": policy.id, "code": exc.code})
        return NoticeState.skipped, None, f"无法创建推送：{exc.message}"[:255]
    log.info("policy notice prepared", extra={"policy": policy.id, "campaign": campaign.id})
    return NoticeState.prepared, campaign.id, "已自动审核通过" if settings.push.auto_notify else ""


async def _towns_named(policy: Policy, settings: Settings) -> list[str]:
    """The towns the policy names in its title, summary or keywords (all towns when none)."""
    text = " ".join([policy.title, policy.summary, *map(str, policy.keywords or [])])
    return [r.name for r in await known_regions() if r.name in text]
