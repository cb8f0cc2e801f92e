"""Who wants which pushes: topics a resident subscribes to, their town or
street, and the bookkeeping of follow and unfollow.

The chat handlers (``bot.handlers.subscriptions``) and the welcome handler
call these functions; nothing here knows about messages or replies.
Unfollow stops every push at once: subscriptions go, and the resident's
pending deliveries are skipped before a worker can claim them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from tortoise.transactions import in_transaction

from bot.catalog import stored
from bot.catalog.models import Topic
from bot.models import Subscriber, Subscription
from bot.push.models import Delivery, DeliveryState

log = logging.getLogger("bot.push")


def norm_name(text: str) -> str:
    """What residents type and what the catalog says compare equal despite spaces and case."""
    return "".join(text.split()).lower()


async def find_topic(name: str) -> Topic | None:
    """A topic by id, name or alias (spaces and case ignored)."""
    wanted = norm_name(name)
    if not wanted:
        return None
    for topic in await Topic.all():
        names = [topic.id, topic.name, *(topic.aliases or [])]
        if any(norm_name(str(n)) == wanted for n in names):
            return topic
    return None


async def ensure_subscriber(openid: str, now: datetime) -> Subscriber:
    subscriber, _ = await Subscriber.get_or_create(
        openid=openid, defaults={"following": True, "followed_at": now}
    )
    return subscriber


async def subscribe(openid: str, topic: Topic, now: datetime) -> bool:
    """Subscribe; False when the resident already had the topic."""
    subscriber = await ensure_subscriber(openid, now)
    _, created = await Subscription.get_or_create(subscriber=subscriber, topic=topic)
    return created


async def unsubscribe(openid: str, topic: Topic) -> bool:
    """Unsubscribe; False when the resident did not have the topic."""
    deleted = await Subscription.filter(subscriber_id=openid, topic_id=topic.id).delete()
    return deleted > 0


async def unsubscribe_all(openid: str) -> int:
    return await Subscription.filter(subscriber_id=openid).delete()


async def topics_of(openid: str) -> list[Topic]:
    ids = await Subscription.filter(subscriber_id=openid).values_list("topic_id", flat=True)
    return list(await Topic.filter(id__in=list(ids)).order_by("position")) if ids else []


@dataclass(frozen=True)
class Region:
    name: str
    aliases: tuple[str, ...] = ()


async def load_regions() -> tuple[Region, ...]:
    """The county's towns and streets from ``regions.yaml``, as ``content sync`` stored
    it (empty when there is none)."""
    return tuple(Region(r.name, tuple(r.aliases)) for r in await stored.regions())


def find_region(name: str, regions: tuple[Region, ...]) -> str | None:
    """The canonical region name for ``name``; free text when no list is configured."""
    wanted = norm_name(name)
    if not wanted:
        return None
    if not regions:
        return name.strip()[:64]
    for region in regions:
        if wanted in (norm_name(region.name), *(norm_name(a) for a in region.aliases)):
            return region.name
    return None


async def set_region(openid: str, region: str, now: datetime) -> None:
    subscriber = await ensure_subscriber(openid, now)
    subscriber.region = region
    await subscriber.save(update_fields=["region", "updated_at"])


async def on_follow(openid: str, now: datetime) -> None:
    """A (re)follow: the resident is reachable again and starts with no topics."""
    async with in_transaction():
        subscriber = await Subscriber.get_or_none(openid=openid)
        if subscriber is None:
            await Subscriber.create(openid=openid, following=True, followed_at=now)
            return
        await Subscription.filter(subscriber_id=openid).delete()
        await Subscriber.filter(openid=openid).update(
            following=True, followed_at=now, unfollowed_at=None, blocked_reason=None
        )


async def on_unfollow(openid: str, now: datetime) -> None:
    """Stop every push at once: drop topics and skip whatever is still queued."""
    async with in_transaction():
        await Subscriber.get_or_create(openid=openid, defaults={"following": False})
        await Subscriber.filter(openid=openid).update(following=False, unfollowed_at=now)
        await Subscription.filter(subscriber_id=openid).delete()
        skipped = await Delivery.filter(openid=openid, state=DeliveryState.pending).update(
            state=DeliveryState.skipped,
            error_message="已取消关注",
            claimed_by=None,
            claimed_until=None,
        )
    if skipped:
        log.info("unfollow skipped pending deliveries", extra={"openid": openid, "count": skipped})
