"""SMS through Tencent Cloud (``SendSms``) to residents who gave a phone with consent.

One call per resident (so each number's status is its own row's outcome),
under ``sms.rate_per_second`` and ``sms.daily_limit``; quiet hours hold SMS
like every push. The notice template takes two parameters, the title and
the link; as Chinese rules require for marketing-type SMS, the approved
template text ends with ``拒收请回复R`` and a TD reply stops SMS at once.

Tencent has no de-duplication id: a message accepted but not yet recorded
when a worker dies is sent again after restart. So the engine records each
SMS the moment Tencent accepts it, before that sender takes its next job: at
any instant at most ``push.workers`` accepted messages are unrecorded, which
bounds the repeats a crash can cause. ``SessionContext`` carries the delivery
id, so the provider's records (and the stand-in) show any repeat.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from bot import contacts
from bot.config import Settings
from bot.push.channels.base import DeliveryChannel, Failure, Fate, Item, RunInfo, Skip
from bot.push.message import tracked_link
from bot.push.models import Channel, Delivery, DeliveryState
from bot.sms.tencent import NETWORK, SmsError, TencentSms

if TYPE_CHECKING:
    from bot.services import Services

RECHECK = timedelta(seconds=5)  # the daily limit seen while other claims are in flight
TITLE_LIMIT = 30  # characters of the title in an SMS (two billed units at most with the link)
# Per-number refusals: the number is wrong or the resident said stop; never retry, stop SMS.
STOP_NUMBER = {
    "InvalidParameterValue.IncorrectPhoneNumber": "手机号无效",
    "FailedOperation.PhoneNumberInBlacklist": "已退订短信（TD）",
    "FailedOperation.PhoneNumberParseFail": "手机号无效",
}
# Per-number limits that pass: wait it out (no attempt counted).
WAIT = {
    "LimitExceeded.PhoneNumberThirtySecondLimit": 30.0,
    "LimitExceeded.PhoneNumberOneHourLimit": 3600.0,
}
RATE_LIMITED = frozenset({"RequestLimitExceeded", "LimitExceeded.DeliveryFrequencyLimit"})
# The whole send would fail the same way: credentials, app, sign, template, balance.
FATAL_PREFIXES = ("AuthFailure", "UnauthorizedOperation", "InvalidParameterValue.SdkAppId")
FATAL = frozenset(
    {
        "FailedOperation.SignatureIncorrectOrUnapproved",
        "FailedOperation.TemplateIncorrectOrUnapproved",
        "FailedOperation.TemplateParamSetNotMatchApprovedTemplate",
        "FailedOperation.InsufficientBalanceInSmsPackage",
        "InvalidAction",
        "NoSuchVersion",
    }
)


def day_start(now: datetime, settings: Settings) -> datetime:
    local = now.astimezone(settings.server.tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


async def estimate(openids: Any, settings: Settings, now: datetime | None = None) -> dict[str, Any]:
    """Before sending: how many SMS an audience would take and what the limits allow today."""
    from bot.push.clock import utcnow

    now = now or utcnow()
    with_phone = await contacts.count_reachable(openids, "sms")
    sent_today = await Delivery.filter(
        channel=Channel.sms, state=DeliveryState.sent, sent_at__gte=day_start(now, settings)
    ).count()
    room = max(0, settings.sms.daily_limit - sent_today)
    return {
        "residents_with_phone": with_phone,
        "daily_limit": settings.sms.daily_limit,
        "sent_today": sent_today,
        "can_send_today": min(with_phone, room),
        "held_for_later_days": max(0, with_phone - room),
        "per_number_daily_limit": settings.sms.per_number_daily_limit,
        "billing": "每条 70 字以内计 1 条，超出按每 67 字 1 条计费",
    }


class SmsChannel(DeliveryChannel):
    name = Channel.sms.value
    bucket: ClassVar[str] = "tencentcloud-sms"
    deduplicates: ClassVar[bool] = False

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.client = TencentSms(services.settings.sms, services.http)

    @classmethod
    def configured(cls, settings: Settings) -> bool:
        return settings.sms.enabled

    def rate(self) -> float:
        return self.settings.sms.rate_per_second

    async def eligible(
        self, run: RunInfo, items: list[Item], now: datetime
    ) -> tuple[list[Item], list[Skip]]:
        reachable = await contacts.reachable([i.openid for i in items], "sms")
        keep = [i for i in items if i.openid in reachable]
        skips = [Skip([i for i in items if i.openid not in reachable], "没有同意接收短信的手机号")]
        start = day_start(now, self.settings)
        sent_today = await Delivery.filter(
            channel=Channel.sms, state=DeliveryState.sent, sent_at__gte=start
        ).count()
        # Rows other claims hold and have not recorded may be sent too: count them against the
        # limit; while there are any, look again shortly (some may be held, not sent).
        others = await Delivery.filter(
            channel=Channel.sms, state=DeliveryState.pending, claimed_until__gt=now
        ).count() - len(items)
        room = max(0, self.settings.sms.daily_limit - sent_today - max(0, others))
        if len(keep) > room:
            until = now + RECHECK if others > 0 else start + timedelta(days=1)
            skips.append(Skip(keep[room:], "已达短信每日上限，明日续发", until=until))
            keep = keep[:room]
        return keep, [s for s in skips if s.items]

    async def send(self, run: RunInfo, items: list[Item]) -> str | None:
        (item,) = items
        phone = (await contacts.reach(item.openid)).phone
        if phone is None:  # the resident withdrew the number since the claim
            raise SmsError("policybot.NoPhone", "没有手机号")
        title = run.message.title
        if len(title) > TITLE_LIMIT:
            title = title[: TITLE_LIMIT - 1] + "…"
        link = (
            tracked_link(self.settings, run.message.url, item.id) or self.settings.server.base_url
        )
        (status,) = await self.client.send(
            [phone], self.settings.sms.template_id, [title, link], f"policybot-d{item.id}"
        )
        if status.code != "Ok":
            raise SmsError(status.code, status.message)
        return status.serial_no

    def classify(self, exc: Exception) -> Failure | None:
        if not isinstance(exc, SmsError):
            return None
        code, message = exc.code, f"{exc.code}: {exc.message}"[:255]
        if code in FATAL or code.startswith(FATAL_PREFIXES):
            return Failure(Fate.fatal, code, message)
        if code in RATE_LIMITED:
            return Failure(Fate.rate_limited, code, message, delay=1.0)
        if code in WAIT:
            return Failure(Fate.transient, code, message, delay=WAIT[code], counts=False)
        if code == NETWORK or code.startswith("InternalError"):
            return Failure(Fate.transient, code, message)
        return Failure(Fate.permanent, code, message, about_resident=STOP_NUMBER.get(code))

    async def refused(self, item: Item, failure: Failure) -> None:
        await contacts.stop_sms(openid=item.openid, reason=str(failure.code))
