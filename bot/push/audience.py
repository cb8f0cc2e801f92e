"""Who a campaign reaches: topics any-of, regions any-of, everyone, or the residents
政策找人 matched (``eligibility``: a batch of ``EligibilityNotice`` rows; only those
who still consent count).

Only residents who still follow and whom WeChat has not refused for good are
counted. The audience is read in openid order, a page at a time, so that
freezing 100,000 residents into deliveries never holds them all in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from tortoise.expressions import Subquery
from tortoise.queryset import QuerySet

from bot.catalog.models import Topic
from bot.models import Subscriber, Subscription

if TYPE_CHECKING:
    from bot.push.regions import Region


class AudienceError(ValueError):
    """The audience description is empty or names unknown topics."""


async def normalise(
    audience: dict[str, Any] | None, known_regions: tuple[Region, ...] = ()
) -> dict[str, Any]:
    """Validate ``{topics?, regions?, everyone?}``; topics may be ids, names or aliases.

    With ``known_regions`` (the county's ``regions.yaml``), each region must be one of
    them (a name or an alias, stored by its name): an unknown town would reach no one.
    """
    from bot.push.regions import find_region
    from bot.push.subscriptions import find_topic

    if audience is not None and not isinstance(audience, dict):
        raise AudienceError("audience 应为对象：{topics?, regions?, everyone?}")
    audience = dict(audience or {})
    if "eligibility" in audience:
        batch = str(audience["eligibility"] or "").strip()
        if not batch or set(audience) != {"eligibility"}:
            raise AudienceError("eligibility 为政策找人匹配的居民批次，不能与其他字段同时使用")
        return {"eligibility": batch}
    unknown = set(audience) - {"topics", "regions", "everyone"}
    if unknown:
        raise AudienceError(f"audience 不支持的字段：{'、'.join(sorted(unknown))}")
    everyone = bool(audience.get("everyone"))
    topics: list[str] = []
    for ref in audience.get("topics") or []:
        topic = await Topic.get_or_none(id=str(ref)) or await find_topic(str(ref))
        if topic is None:
            raise AudienceError(f"没有这个主题：{ref}")
        if topic.id not in topics:
            topics.append(topic.id)
    regions: list[str] = []
    for ref in audience.get("regions") or []:
        if not str(ref).strip():
            continue
        name = find_region(str(ref), known_regions)
        if name is None:
            known = "、".join(r.name for r in known_regions)
            raise AudienceError(f"没有这个镇街：{ref}（可选：{known}）")
        if name not in regions:
            regions.append(name)
    if not (everyone or topics or regions):
        raise AudienceError("推送对象需要 topics、regions 或 everyone 之一")
    if everyone and (topics or regions):
        raise AudienceError("everyone 不能与 topics 或 regions 同时使用")
    return {"topics": topics, "regions": regions, "everyone": everyone}


def query(audience: dict[str, Any]) -> QuerySet[Subscriber]:
    """Residents matching the audience: any of its topics and (if given) any of its regions."""
    qs = Subscriber.filter(following=True, blocked_reason__isnull=True)
    if audience.get("eligibility"):
        from bot.eligibility.models import EligibilityNotice, ResidentProfile

        matched = EligibilityNotice.filter(batch=audience["eligibility"]).values("openid")
        consenting = ResidentProfile.all().values("openid")
        return qs.filter(openid__in=Subquery(matched)).filter(openid__in=Subquery(consenting))
    if audience.get("everyone"):
        return qs
    if audience.get("topics"):
        subscribed = Subscription.filter(topic_id__in=audience["topics"]).values("subscriber_id")
        qs = qs.filter(openid__in=Subquery(subscribed))
    if audience.get("regions"):
        qs = qs.filter(region__in=audience["regions"])
    return qs


async def count(audience: dict[str, Any]) -> int:
    return await query(audience).count()


async def iter_openids(qs: QuerySet[Subscriber], page: int = 5000) -> AsyncIterator[list[str]]:
    """Pages of openids in openid order (keyset pagination: constant memory)."""
    last = ""
    while True:
        openids = (
            await qs.filter(openid__gt=last)
            .order_by("openid")
            .limit(page)
            .values_list("openid", flat=True)
        )
        if not openids:
            return
        yield [str(o) for o in openids]
        last = str(openids[-1])
