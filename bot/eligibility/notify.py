"""Policies find people: when a policy with eligibility is published or its rule
changes, the consenting residents it matches are told once, and dated rules
make reminders — each an ordinary campaign draft through the approval flow.

The audience of such a campaign is ``{"eligibility": batch}``: the residents
recorded in ``EligibilityNotice`` under that batch who still consent and
follow (``bot.push.audience``), so the count a reviewer sees before approving
is the count that would be sent, and a resident who withdraws is dropped
(``profile.forget`` also skips their deliveries already queued). The monthly
mass quota per resident holds across all campaigns in the delivery worker.

``prepare_pending`` runs with the push scheduler's reconcile; reminders run
once a day (``remind``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from collections.abc import Iterable

import orjson
from tortoise.backends.base.client import BaseDBAsyncClient

from bot.audit import Actor
from bot.catalog import events
from bot.catalog.models import Interpretation, Policy, Status
from bot.config import Settings
from bot.eligibility.conditions import attributes_in, rule_of
from bot.eligibility.matching import (
    Residents,
    consenting_residents,
    matching_openids,
    policies_in_force,
)
from bot.eligibility.models import EligibilityNotice, EligibilityRound
from bot.errors import DomainError
from bot.push import audience, campaigns

log = logging.getLogger("bot.eligibility")

AUTHOR = Actor("政策找人", "system")
MATCH, REMINDER = "match", "reminder"


@events.on_policies_published
async def policies_published(policy_ids: Iterable[str], conn: BaseDBAsyncClient) -> None:
    """A newly published policy is matched at the next reconcile (inside publishing's transaction)."""
    rows = [EligibilityRound(policy_id=pid) for pid in dict.fromkeys(policy_ids)]
    await EligibilityRound.bulk_create(rows, ignore_conflicts=True, using_db=conn)


def rule_hash(policy: Policy) -> str:
    rule = rule_of(policy.eligibility or {})
    return hashlib.sha256(orjson.dumps(rule, option=orjson.OPT_SORT_KEYS)).hexdigest()


async def prepare_pending(settings: Settings, now: dt.datetime) -> int:
    """Match each policy in force whose rule is new or changed; returns campaigns created."""
    today = now.astimezone(settings.server.tz).date()
    done = dict(await EligibilityRound.all().values_list("policy_id", "rule_hash"))
    due = [p for p in await policies_in_force(today) if done.get(p.id) != rule_hash(p)]
    if not due:
        return 0
    residents = await consenting_residents()
    created = 0
    for policy in due:
        new = rule_hash(policy)
        await EligibilityRound.bulk_create(
            [EligibilityRound(policy_id=policy.id)], ignore_conflicts=True
        )
        claimed = await EligibilityRound.filter(
            policy_id=policy.id, rule_hash=done.get(policy.id, "")
        ).update(rule_hash=new)
        if not claimed:
            continue  # another worker has it
        openids = matching_openids(residents, policy.eligibility or {}, today)
        note = await _tell(policy, openids, MATCH, settings)
        await EligibilityRound.filter(policy_id=policy.id).update(note=note[:255])
        created += note.startswith("campaign")
    return created


async def remind(settings: Settings, now: dt.datetime, residents: Residents | None = None) -> int:
    """Reminders ahead of a date: a birthday that makes a resident qualify next month,
    an ``apply_by`` within ``eligibility.remind_days``. Returns campaigns created."""
    today = now.astimezone(settings.server.tz).date()
    next_month = (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    horizon = today + dt.timedelta(days=settings.eligibility.remind_days)
    policies = await policies_in_force(today)
    if residents is None:
        residents = await consenting_residents()
    if not (policies and len(residents)):
        return 0
    created = 0
    for policy in policies:
        eligibility = policy.eligibility or {}
        rule = rule_of(eligibility)
        wanted: list[str] = []
        if "age" in attributes_in(rule):
            soon = residents.matching(rule, next_month) & ~residents.matching(rule, today)
            wanted += [residents.openids[i] for i in soon.nonzero()[0]]
        deadline = eligibility.get("apply_by")
        apply_by = dt.date.fromisoformat(deadline) if deadline else None
        if apply_by and today <= apply_by <= horizon:
            wanted += matching_openids(residents, eligibility, today)
        if wanted:
            note = await _tell(policy, list(dict.fromkeys(wanted)), REMINDER, settings, apply_by)
            created += note.startswith("campaign")
    return created


async def _tell(
    policy: Policy,
    openids: list[str],
    kind: str,
    settings: Settings,
    apply_by: dt.date | None = None,
) -> str:
    """Record who is told (once per policy and kind) and draft the campaign; a note."""
    told = (
        set(
            await EligibilityNotice.filter(
                policy_id=policy.id, kind=kind, openid__in=openids
            ).values_list("openid", flat=True)
        )
        if openids
        else set()
    )
    fresh = [o for o in openids if o not in told]
    if not fresh:
        return "no new residents"
    batch = uuid.uuid4().hex
    await EligibilityNotice.bulk_create(
        [EligibilityNotice(openid=o, policy_id=policy.id, kind=kind, batch=batch) for o in fresh],
        ignore_conflicts=True,
        batch_size=1000,
    )
    if not await audience.count({"eligibility": batch}):
        return "no reachable residents"
    interpretation = (
        await Interpretation.filter(policy_id=policy.id, status=Status.published)
        .order_by("published_on", "id")
        .first()
    )
    body = {
        "title": (("提醒：" if kind == REMINDER else "您可能符合：") + policy.title)[:128],
        "text": _text(policy, kind, apply_by)[:1500],
        "policy_id": policy.id,
        "interpretation_id": interpretation.id if interpretation else None,
        "audience": {"eligibility": batch},
        "channel": settings.eligibility.channel,
    }
    try:
        campaign = await campaigns.create(body, AUTHOR, settings)
    except DomainError as exc:  # e.g. no template configured: kept on the round and logged
        log.warning(
            "eligibility campaign not prepared", extra={"policy": policy.id, "code": exc.code}
        )
        await EligibilityNotice.filter(batch=batch).delete()  # nobody was told; try again later
        return f"无法创建推送：{exc.message}"
    log.info("eligibility campaign prepared", extra={"policy": policy.id, "campaign": campaign.id})
    return f"campaign {campaign.id}"


def _text(policy: Policy, kind: str, apply_by: dt.date | None) -> str:
    e = policy.eligibility or {}
    lead = "根据您在“政策体检”中的回答，"
    if kind == REMINDER and apply_by:
        lead += f"您可能符合的《{policy.title}》将于 {apply_by.isoformat()} 截止申请。"
    elif kind == REMINDER:
        lead += f"您下个月起可能符合《{policy.title}》，可提前了解办理。"
    else:
        lead += f"您可能符合《{policy.title}》。"
    parts = [lead, f"可享：{e.get('gives', '')}"]
    if e.get("apply"):
        parts.append(f"怎么办：{e['apply']}")
    if e.get("where"):
        parts.append(f"在哪办：{e['where']}")
    parts.append("是否符合以主管部门审核为准。发送“删除我的信息”可不再接收此类提醒。")
    return "\n".join(parts)
