"""Residents' answers: kept encrypted, only with consent, shown and deleted on request.

What is kept is the minimum the conditions need: one value per attribute of
``bot.eligibility.attributes`` (a birth year-month, not a date of birth or an
ID number). A resident who withdraws consent (``删除我的信息``) loses the
profile, the check under way and the notices prepared for them, and
deliveries of eligibility campaigns still queued for them are skipped.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from tortoise.expressions import Subquery
from tortoise.transactions import in_transaction

from bot import privacy
from bot.eligibility.attributes import ATTRIBUTES
from bot.eligibility.models import EligibilityCheck, EligibilityNotice, ResidentProfile

Answers = dict[str, Any]


def seal(data: dict[str, Any]) -> str:
    return privacy.encrypt(orjson.dumps(data).decode())


def unseal(token: str) -> dict[str, Any]:
    """The answers; none when they were sealed with another key (``bot.privacy`` logs it)."""
    text = privacy.decrypt(token)
    data = orjson.loads(text) if text else {}
    return data if isinstance(data, dict) else {}


def only_known(answers: Answers) -> Answers:
    return {k: v for k, v in answers.items() if k in ATTRIBUTES}


async def load(openid: str) -> Answers | None:
    """The kept answers of a consenting resident, or None."""
    row = await ResidentProfile.get_or_none(openid=openid)
    return only_known(unseal(row.data)) if row else None


async def save(openid: str, answers: Answers, now: dt.datetime) -> None:
    """Keep (replace) a consenting resident's answers."""
    data = seal(only_known(answers))
    updated = await ResidentProfile.filter(openid=openid).update(data=data)
    if not updated:
        await ResidentProfile.create(openid=openid, data=data, consented_at=now)


async def forget(openid: str) -> bool:
    """Delete everything kept about the resident's eligibility; True if anything was."""
    from bot.push.models import Campaign, CampaignState, Delivery, DeliveryState

    FINISHED = (CampaignState.done, CampaignState.cancelled, CampaignState.failed)

    async with in_transaction():
        had = await ResidentProfile.filter(openid=openid).delete()
        had += await EligibilityCheck.filter(openid=openid).delete()
        await EligibilityNotice.filter(openid=openid).delete()
        # Matched but not sent yet: the send must not reach them.
        ids = [  # campaigns are few; JSON queries differ by backend
            c.id
            for c in await Campaign.exclude(state__in=FINISHED).only("id", "audience")
            if isinstance(c.audience, dict) and c.audience.get("eligibility")
        ]
        if ids:
            await Delivery.filter(
                openid=openid, state=DeliveryState.pending, campaign_id__in=ids
            ).update(
                state=DeliveryState.skipped,
                error_message="居民已删除政策体检信息",
                claimed_by=None,
                claimed_until=None,
            )
    return bool(had)


def consenting() -> Subquery:
    """The openids of residents who agreed (for audiences)."""
    return Subquery(ResidentProfile.all().values("openid"))


def describe(answers: Answers) -> list[str]:
    """What is kept, a line per attribute, as the resident reads it (我的信息)."""
    return [
        f"{ATTRIBUTES[name].label}：{ATTRIBUTES[name].shown(value)}"
        for name, value in answers.items()
        if name in ATTRIBUTES
    ]
