"""Topics as WeChat tags, so that a mass send can target a tag.

Each topic gets a tag of the same name (created, or found by name when it
already exists). Membership follows subscriptions: ``TagMember`` mirrors what
WeChat holds, so reconciling is two set differences computed in the
database, then tagging calls of at most 50 openids.
"""

from __future__ import annotations

import logging

from tortoise.expressions import Subquery

from bot.catalog.models import Topic
from bot.models import Subscriber, Subscription
from bot.push.models import TagMember
from bot.wechat.api import TAG_BATCH, WeChatAPI
from bot.wechat.errors import WeChatError

log = logging.getLogger("bot.push")

TAG_NAME_EXISTS = 45157


async def ensure_tag(api: WeChatAPI, topic: Topic) -> int:
    """The topic's tag id, creating (or adopting, by name) the tag on WeChat."""
    if topic.wechat_tag_id is not None:
        return topic.wechat_tag_id
    try:
        tag_id = int((await api.create_tag(topic.name))["id"])
    except WeChatError as exc:
        if exc.code != TAG_NAME_EXISTS:
            raise
        found = [t for t in await api.get_tags() if t.get("name") == topic.name]
        if not found:
            raise
        tag_id = int(found[0]["id"])
    await Topic.filter(id=topic.id).update(wechat_tag_id=tag_id)
    topic.wechat_tag_id = tag_id
    log.info("topic mapped to WeChat tag", extra={"topic": topic.id, "tag": tag_id})
    return tag_id


async def reconcile_topic(api: WeChatAPI, topic: Topic) -> tuple[int, int]:
    """Tag new subscribers and untag former ones; returns (tagged, untagged)."""
    tag_id = await ensure_tag(api, topic)
    members = TagMember.filter(tag_id=tag_id).values("openid")
    wanted = Subscription.filter(topic_id=topic.id, subscriber__following=True).values(
        "subscriber_id"
    )
    to_tag = (
        await Subscriber.filter(openid__in=Subquery(wanted))
        .exclude(openid__in=Subquery(members))
        .values_list("openid", flat=True)
    )
    to_untag = (
        await TagMember.filter(tag_id=tag_id)
        .exclude(openid__in=Subquery(wanted))
        .values_list("openid", flat=True)
    )
    tagged = untagged = 0
    for chunk in _chunks([str(o) for o in to_tag]):
        done = await _tag_chunk(api, tag_id, chunk)
        await TagMember.bulk_create(
            [TagMember(tag_id=tag_id, openid=o) for o in done], ignore_conflicts=True
        )
        tagged += len(done)
    for chunk in _chunks([str(o) for o in to_untag]):
        try:
            await api.untag_users(tag_id, chunk)
        except WeChatError as exc:
            if exc.transient or exc.token_invalid:
                raise
            # Someone in the chunk unfollowed: WeChat dropped their tags already.
            log.info(
                "untagging refused, dropping mirror rows",
                extra={"tag": tag_id, "errcode": exc.code},
            )
        await TagMember.filter(tag_id=tag_id, openid__in=chunk).delete()
        untagged += len(chunk)
    if tagged or untagged:
        log.info(
            "tag reconciled",
            extra={"topic": topic.id, "tag": tag_id, "tagged": tagged, "untagged": untagged},
        )
    return tagged, untagged


async def _tag_chunk(api: WeChatAPI, tag_id: int, chunk: list[str]) -> list[str]:
    """Tag a chunk; when WeChat refuses it, tag one by one and leave out the refused."""
    try:
        await api.tag_users(tag_id, chunk)
        return chunk
    except WeChatError as exc:
        if exc.transient or exc.token_invalid or len(chunk) == 1:
            if len(chunk) == 1 and exc.permanent:
                log.info(
                    "resident not tagged",
                    extra={"tag": tag_id, "openid": chunk[0], "errcode": exc.code},
                )
                return []
            raise
    done = []
    for openid in chunk:
        done.extend(await _tag_chunk(api, tag_id, [openid]))
    return done


async def reconcile_all(api: WeChatAPI) -> dict[str, tuple[int, int]]:
    out = {}
    for topic in await Topic.all():
        out[topic.id] = await reconcile_topic(api, topic)
    return out


def _chunks(items: list[str]) -> list[list[str]]:
    return [items[i : i + TAG_BATCH] for i in range(0, len(items), TAG_BATCH)]
