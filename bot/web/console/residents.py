"""Subscribers: counts by topic and town, their growth (a small chart drawn here as SVG),
and looking up one resident for support, showing no more than a clerk needs."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from aiohttp import web
from tortoise.expressions import Q
from tortoise.functions import Count

from bot.catalog.models import Topic
from bot.config import Role
from bot.feedback.answers import WINDOW
from bot.models import Feedback, Subscriber, Subscription
from bot.push.models import Delivery
from bot.push.subscriptions import topics_of
from bot.web.console.frame import User, can, page, refuse, render

READ_ROLES = (Role.editor, Role.reviewer)
WEEKS = 12
STATS_TTL = 60.0  # seconds: counts over every resident are read at most once a minute
STATS = web.AppKey("console_resident_stats", dict)
CHART = {"width": 640, "height": 180, "pad": 28}


async def _by_topic() -> list[tuple[str, int]]:
    rows = dict(
        await Subscription.filter(subscriber__following=True)
        .annotate(n=Count("id"))
        .group_by("topic_id")
        .values_list("topic_id", "n")
    )
    return [(t.name, rows.get(t.id, 0)) for t in await Topic.all().order_by("position")]


async def _by_town() -> list[tuple[str, int]]:
    rows = (
        await Subscriber.filter(following=True)
        .annotate(n=Count("openid"))
        .group_by("region")
        .order_by("region")
        .values_list("region", "n")
    )
    return [(region or "未设置", n) for region, n in rows]


async def _growth(now: dt.datetime) -> list[tuple[dt.date, int]]:
    """Followers at the end of each of the last weeks, all counted in one pass over the table."""
    ends = [now - dt.timedelta(weeks=back) for back in range(WEEKS - 1, -1, -1)]

    def followed_by(end: dt.datetime) -> Count:
        joined = Q(followed_at__isnull=True, created_at__lte=end) | Q(followed_at__lte=end)
        stayed = Q(following=True) | Q(unfollowed_at__gt=end)
        return Count("openid", _filter=joined & stayed)

    sums = {f"w{i}": followed_by(end) for i, end in enumerate(ends)}
    row = (await Subscriber.all().annotate(**sums).values(*sums))[0]
    return [(end.date(), int(row[f"w{i}"] or 0)) for i, end in enumerate(ends)]


def chart(points: list[tuple[dt.date, int]]) -> dict[str, Any]:
    """A polyline's coordinates for the followers chart (drawn as inline SVG, no library)."""
    w, h, pad = CHART["width"], CHART["height"], CHART["pad"]
    top = max((n for _, n in points), default=0) or 1
    step = (w - 2 * pad) / max(1, len(points) - 1)
    xy = [(pad + i * step, h - pad - (n / top) * (h - 2 * pad)) for i, (_, n) in enumerate(points)]
    return {
        **CHART, "top": top, "points": " ".join(f"{x:.1f},{y:.1f}" for x, y in xy),
        "dots": [(x, y, d, n) for (x, y), (d, n) in zip(xy, points, strict=True)],
    }  # fmt: skip


async def _lookup(openid: str, now: dt.datetime) -> dict[str, Any] | None:
    """What support needs about one resident; not their 留言 texts or full history."""
    resident = await Subscriber.get_or_none(openid=openid)
    if resident is None:
        return None
    active = resident.last_active_at
    return {
        "r": resident,
        "topics": [t.name for t in await topics_of(openid)],
        "in_window": bool(resident.following and active and now - active <= WINDOW),
        "feedback": await Feedback.filter(openid=openid).count(),
        "deliveries": await Delivery.filter(openid=openid)
        .order_by("-id")
        .limit(5)
        .values("campaign_id", "state", "error_code", "sent_at"),
    }


async def _stats(request: web.Request, now: dt.datetime) -> dict[str, Any]:
    """Counts over all residents (whole-table scans), kept for ``STATS_TTL`` per process."""
    cache = request.app[STATS]
    if cache and time.monotonic() - cache["at"] < STATS_TTL:
        return dict(cache["stats"])
    stats = {
        "following": await Subscriber.filter(following=True).count(),
        "by_topic": await _by_topic(), "by_town": await _by_town(),
        "chart": chart(await _growth(now)), "as_of": now,
    }  # fmt: skip
    cache.update(at=time.monotonic(), stats=stats)
    return stats


def setup(app: web.Application) -> None:
    app[STATS] = {}


@page
async def residents_page(request: web.Request, user: User) -> web.Response:
    if not can(user, *READ_ROLES):
        return refuse(request, user, "只有编辑和审核人可以查看订阅居民。")
    now = dt.datetime.now(dt.UTC)
    openid = request.query.get("openid", "").strip()[:64]
    return render(
        request, "residents.html", user, title="订阅居民", **await _stats(request, now),
        openid=openid, found=await _lookup(openid, now) if openid else None,
    )  # fmt: skip
