"""The WeChat channels: template (or 订阅通知) per resident, customer-service
messages inside the 48-hour window, mass sends by tag or openid list under the
monthly quota, and the preview a test send of a mass campaign uses.

All four share one rate ceiling (``push.rate_per_second``) and WeChat's error
codes. A message WeChat accepted but not yet recorded when a worker crashed is
sent again after restart; template sends carry ``client_msg_id`` (WeChat drops
a resend within 10 minutes) and mass sends a deterministic ``clientmsgid``
(45065 returns the earlier msg_id), so neither reaches a resident twice.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta
from typing import Any, ClassVar

from bot.models import Subscriber
from bot.push.channels.base import DeliveryChannel, Failure, Fate, Item, RunInfo, Skip, Unit
from bot.push.clock import month_start, utcnow
from bot.push.message import tracked_link
from bot.push.models import Channel, Delivery, DeliveryState
from bot.wechat.errors import BAD_ANSWER, DEMO_MODE, WeChatError

RATE_LIMITED = frozenset({45009, 45011})
RETRY_TOO_FAST = 45066  # clientmsgid retried within a minute
# Refusals about the resident: mark the resident too, never retry.
RESIDENT_REFUSALS = {
    43004: "已取消关注",
    40003: "openid 无效",
    43019: "已将公众号拉黑",
    43101: "拒收订阅通知",
}
# Refusals about the whole send: every other row would fail the same way.
# 47001/47003: the data is wrong for the template, the same for every resident.
RUN_FATAL = frozenset(
    {DEMO_MODE, BAD_ANSWER, 40013, 40125, 40037, 41028, 47001, 47003, 48001, 40164}
)
CUSTOMER_WINDOW = timedelta(hours=48)
CUSTOMER_LIMIT = 4  # WeChat allows 5 per window; one is kept for answering the resident
MASS_CHUNK = 10_000  # message/mass/send takes 2 to 10,000 openids


class WeChatChannel(DeliveryChannel):
    """What every WeChat channel shares: the ceiling and the error codes."""

    bucket: ClassVar[str] = "wechat"

    def classify(self, exc: Exception) -> Failure | None:
        if not isinstance(exc, WeChatError):
            return None
        code, message = exc.code, exc.message[:255]
        if code in RUN_FATAL or (exc.permanent and code < 0):
            return Failure(Fate.fatal, code, message)
        if code in RATE_LIMITED:
            return Failure(Fate.rate_limited, code, message, delay=30 + random.random() * 30)
        if code == RETRY_TOO_FAST:
            return Failure(Fate.transient, code, message, delay=61, counts=False)
        if exc.transient or exc.token_invalid:
            return Failure(Fate.transient, code, message)
        return Failure(Fate.permanent, code, message, about_resident=RESIDENT_REFUSALS.get(code))

    async def refused(self, item: Item, failure: Failure) -> None:
        update: dict[str, Any] = {"blocked_reason": f"{failure.code} {failure.about_resident}"}
        if failure.code == 43004:
            update.update(following=False, unfollowed_at=utcnow())
        await Subscriber.filter(openid=item.openid).update(**update)


class TemplateChannel(WeChatChannel):
    """One template message (or 订阅通知, ``wechat.use_subscribe_message``) per resident."""

    name = Channel.template.value

    async def send(self, run: RunInfo, items: list[Item]) -> str | None:
        (item,) = items
        msg = run.message
        templates = self.settings.push.templates
        data = msg.template_data(
            utcnow().astimezone(self.settings.server.tz), templates.get(run.template_id)
        )
        api = self.services.api
        url = tracked_link(self.settings, msg.url, item.id)
        if self.settings.wechat.use_subscribe_message:
            await api.send_subscribe_message(item.openid, run.template_id, data, page=url)
            return None
        # client_msg_id names the row; the msgid is kept for TEMPLATESENDJOBFINISH.
        msgid = await api.send_template(
            item.openid,
            run.template_id,
            data,
            url=url,
            client_msg_id=f"policybot-d{item.id}",
        )
        return str(msgid) if msgid else None


class CustomerChannel(WeChatChannel):
    """Customer-service text, only inside the 48-hour window and its message count."""

    name = Channel.customer.value

    async def eligible(
        self, run: RunInfo, items: list[Item], now: datetime
    ) -> tuple[list[Item], list[Skip]]:
        openids = [i.openid for i in items]
        active = dict(
            await Subscriber.filter(openid__in=openids).values_list("openid", "last_active_at")
        )
        recent = await Delivery.filter(
            openid__in=openids,
            channel=Channel.customer,
            state=DeliveryState.sent,
            sent_at__gte=now - CUSTOMER_WINDOW,
        ).values_list("openid", "sent_at")
        keep, silent, spent = [], [], []
        for item in items:
            last = active.get(item.openid)
            if last is None or now - last > CUSTOMER_WINDOW:
                silent.append(item)
            elif sum(1 for o, at in recent if o == item.openid and at >= last) >= CUSTOMER_LIMIT:
                spent.append(item)
            else:
                keep.append(item)
        skips = [
            Skip(silent, "48 小时内未与公众号互动"),
            Skip(spent, "customer message limit reached"),
        ]
        return keep, [s for s in skips if s.items]

    async def send(self, run: RunInfo, items: list[Item]) -> str | None:
        (item,) = items
        await self.services.api.send_custom_text(item.openid, run.message.plain())
        return None


class MassChannel(WeChatChannel):
    """Mass send: one call per WeChat tag, or per list of up to 10,000 openids."""

    name = Channel.mass.value
    unit = Unit.chunk
    chunk_size = MASS_CHUNK

    def for_test(self) -> DeliveryChannel:
        return MassPreviewChannel(self.services)

    async def eligible(
        self, run: RunInfo, items: list[Item], now: datetime
    ) -> tuple[list[Item], list[Skip]]:
        """Residents who had their mass sends for the month are skipped (WeChat would drop them)."""
        quota = self.settings.push.mass_monthly_quota
        since = month_start(now, self.settings.server.tz)
        counts: Counter[str] = Counter()
        openids = [i.openid for i in items]
        for start in range(0, len(openids), 1000):
            rows = await Delivery.filter(
                openid__in=openids[start : start + 1000],
                channel=Channel.mass,
                state=DeliveryState.sent,
                sent_at__gte=since,
            ).values_list("openid", flat=True)
            counts.update(str(o) for o in rows)
        keep = [i for i in items if counts[i.openid] < quota]
        skips = [
            Skip([i for i in items if counts[i.openid] >= quota], f"本月群发已达 {quota} 次上限")
        ]
        if run.mass_tag_id is None and len(keep) == 1:
            skips.append(Skip(keep, "mass send needs at least two recipients"))
            keep = []
        return keep, [s for s in skips if s.items]

    async def send(self, run: RunInfo, items: list[Item]) -> str | None:
        api = self.services.api
        payload = run.message.mass_payload()
        if run.mass_tag_id is not None:
            if run.topic_id:
                from bot.catalog.models import Topic
                from bot.push.tags import reconcile_topic

                topic = await Topic.get_or_none(id=run.topic_id)
                if topic is not None:
                    await reconcile_topic(api, topic)
            clientmsgid = f"policybot-c{run.campaign_id}-r{run.id}-t{run.mass_tag_id}"
            return str(await api.mass_send_by_tag(run.mass_tag_id, payload, clientmsgid))
        clientmsgid = f"policybot-c{run.campaign_id}-r{run.id}-k{items[0].chunk or 0}"
        return str(await api.mass_send_to_openids([i.openid for i in items], payload, clientmsgid))


class MassPreviewChannel(WeChatChannel):
    """A test send of a mass campaign: WeChat's preview, outside the monthly quota."""

    name = Channel.mass.value

    async def send(self, run: RunInfo, items: list[Item]) -> str | None:
        (item,) = items
        answer = await self.services.api.call(
            "cgi-bin/message/mass/preview",
            json={"touser": item.openid, **run.message.mass_payload()},
        )
        return str(answer.get("msg_id") or "") or None
