"""Who wants which pushes: topics a resident subscribes to, their town or
street, and the bookkeeping of follow and unfollow.

The chat handlers (``bot.handlers.subscriptions``) and the welcome handler
call these functions; nothing here knows about messages or replies.
Unfollow stops every push at once: subscriptions go, and the resident's
pending deliveries are skipped before a worker can claim them.
"""

from __future__ import annotations

import logging
from datetime import datetime

from tortoise.transactions import in_transaction

from bot.catalog.models import Topic
from bot.models import Subscriber, Subscription
from bot.push.models import Delivery, DeliveryState
from bot.push.regions import norm_name

log = logging.getLogger("bot.push")


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


async def subscribe_many(openid: str, topics: list[Topic], now: datetime) -> list[Topic]:
    """Subscribe to each topic; the ones the resident did not have yet."""
    async with in_transaction():
        subscriber = await ensure_subscriber(openid, now)
        have = set(
            await Subscription.filter(subscriber=subscriber).values_list("topic_id", flat=True)
        )
        added = [t for t in topics if t.id not in have]
        await Subscription.bulk_create(
            [Subscription(subscriber=subscriber, topic=t) for t in added], ignore_conflicts=True
        )
    return added


async def unsubscribe(openid: str, topic: Topic) -> bool:
    """Unsubscribe; False when the resident did not have the topic."""
    deleted = await Subscription.filter(subscriber_id=openid, topic_id=topic.id).delete()
    return deleted > 0


async def unsubscribe_all(openid: str) -> int:
    return await Subscription.filter(subscriber_id=openid).delete()


async def topics_of(openid: str) -> list[Topic]:
    ids = await Subscription.filter(subscriber_id=openid).values_list("topic_id", flat=True)
    return list(await Topic.filter(id__in=list(ids)).order_by("position")) if ids else []


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
