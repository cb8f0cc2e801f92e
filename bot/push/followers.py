"""``policybot followers sync``: bring an existing account's followers in.

Pages of ``user/get`` (10,000 openids) are read with ``user/info/batchget``
(100 at a time) for each follower's WeChat tags; tags that match a topic
(by the topic's tag id, or by name) become subscriptions. The cursor is
saved after every page, so an interrupted sync resumes where it stopped;
everything is an upsert, so running it twice changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.catalog.models import Topic
from bot.models import Subscriber, Subscription
from bot.push.models import PushCursor, TagMember
from bot.wechat.api import USER_INFO_BATCH, WeChatAPI

log = logging.getLogger("bot.push")

CURSOR = "followers-sync"

Progress = Callable[[int, int], None]


@dataclass
class FollowersReport:
    seen: int = 0
    created: int = 0
    unfollowed: int = 0
    subscriptions: int = 0
    resumed_from: str | None = None

    def summary(self) -> str:
        resumed = f"（从上次中断处继续：{self.resumed_from}）" if self.resumed_from else ""
        return (
            f"关注者同步完成{resumed}：读取 {self.seen} 人，新增 {self.created} 人，"
            f"已取消关注 {self.unfollowed} 人，按标签新增订阅 {self.subscriptions} 条"
        )


async def map_tags(api: WeChatAPI) -> dict[int, str]:
    """WeChat tag id → topic id; a topic without a tag id adopts the tag of its name."""
    topics = await Topic.all()
    by_name = {t.name: t for t in topics if t.wechat_tag_id is None}
    if by_name:
        for tag in await api.get_tags():
            topic = by_name.get(str(tag.get("name")))
            if topic is not None:
                topic.wechat_tag_id = int(tag["id"])
                await Topic.filter(id=topic.id).update(wechat_tag_id=topic.wechat_tag_id)
    return {t.wechat_tag_id: t.id for t in topics if t.wechat_tag_id is not None}


async def sync_followers(api: WeChatAPI, progress: Progress | None = None) -> FollowersReport:
    report = FollowersReport()
    tag_topics = await map_tags(api)
    cursor = await PushCursor.get_or_none(name=CURSOR)
    next_openid = cursor.value if cursor and cursor.value else None
    report.resumed_from = next_openid
    done = cursor.done if cursor and next_openid else 0
    while True:
        openids, following_next, total = await api.get_followers(next_openid)
        if not openids:
            break
        for start in range(0, len(openids), USER_INFO_BATCH):
            infos = await api.batch_user_info(openids[start : start + USER_INFO_BATCH])
            await _store(infos, tag_topics, report)
            done += len(infos)
            report.seen += len(infos)
            if progress:
                progress(done, total)
        next_openid = following_next or None
        await PushCursor.update_or_create(
            defaults={"value": next_openid or "", "done": done}, name=CURSOR
        )
        if not next_openid:
            break
    await PushCursor.filter(name=CURSOR).delete()
    log.info("followers synced", extra={"seen": report.seen, "created": report.created})
    return report


async def _store(infos: list[dict], tag_topics: dict[int, str], report: FollowersReport) -> None:
    following = [i for i in infos if i.get("subscribe")]
    gone = [str(i["openid"]) for i in infos if not i.get("subscribe")]
    if gone:
        report.unfollowed += await Subscriber.filter(openid__in=gone, following=True).update(
            following=False, unfollowed_at=datetime.now(UTC)
        )
    if not following:
        return
    ids = [str(i["openid"]) for i in following]
    existing = {s.openid: s for s in await Subscriber.filter(openid__in=ids)}
    new, changed = [], []
    for info in following:
        openid = str(info["openid"])
        tags = sorted(int(t) for t in info.get("tagid_list") or [])
        sub = existing.get(openid)
        if sub is None:
            since = (
                datetime.fromtimestamp(int(info.get("subscribe_time") or 0), UTC)
                if info.get("subscribe_time")
                else None
            )
            new.append(
                Subscriber(openid=openid, following=True, followed_at=since, wechat_tags=tags)
            )
        elif not sub.following or sub.wechat_tags != tags:
            sub.following, sub.wechat_tags = True, tags
            changed.append(sub)
    if new:
        await Subscriber.bulk_create(new, ignore_conflicts=True)
        report.created += len(new)
    if changed:
        await Subscriber.bulk_update(changed, fields=["following", "wechat_tags"])
    pairs = [(str(i["openid"]), int(t)) for i in following for t in i.get("tagid_list") or []]
    mapped = [(o, tag_topics[t]) for o, t in pairs if t in tag_topics]
    if mapped:
        before = await Subscription.filter(subscriber_id__in=ids).count()
        await Subscription.bulk_create(
            [Subscription(subscriber_id=o, topic_id=t) for o, t in mapped], ignore_conflicts=True
        )
        report.subscriptions += await Subscription.filter(subscriber_id__in=ids).count() - before
    if pairs:
        # WeChat already carries these tags: the tag reconciler must not tag them again.
        await TagMember.bulk_create(
            [TagMember(tag_id=t, openid=o) for o, t in pairs], ignore_conflicts=True
        )
