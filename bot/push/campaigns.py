"""Campaign operations shared by the admin API and the console: create,
approve, cancel, test-send, retry failed, send to new subscribers, report.

Rules live here, not in the HTTP layer: a different person approves than
the one who wrote; residents who subscribe after a send are not sent it by
accident (the audience is frozen when a run starts) but an editor can send
it to them later with a follow-up run. Every change is audited.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from tortoise.expressions import Q, Subquery
from tortoise.functions import Count
from tortoise.transactions import in_transaction

from bot import audit
from bot.accounts import services as accounts
from bot.audit import Actor
from bot.catalog.models import Interpretation, Policy
from bot.catalog.versions import content_hash
from bot.config import Settings
from bot.errors import Conflict, Forbidden, Invalid, NotFound
from bot.models import AuditEntry, Subscriber
from bot.push import audience, runs
from bot.push.clock import cron_trigger, parse_when, utcnow
from bot.push.models import (
    Campaign,
    CampaignRun,
    CampaignState,
    Channel,
    Delivery,
    DeliveryState,
    RunState,
)
from bot.push.regions import known_regions

log = logging.getLogger("bot.push")

PAST_GRACE = timedelta(minutes=1)  # a form filled in a minute ago still means "now"
DAILY_TEST_SENDS = 10  # per account; a test skips approval, so it stays a test
MASS_PROTECTION_WARNING = (
    "若公众号开启了“API群发保护”，每次群发需管理员在 30 分钟内于微信确认，否则群发失败。"
)
CANCELLABLE = (
    CampaignState.draft,
    CampaignState.approved,
    CampaignState.scheduled,
    CampaignState.sending,
)


async def _audit(actor: Actor, action: str, campaign_id: int, **detail: Any) -> None:
    await audit.record(actor, action, "campaign", campaign_id, **detail)


async def get(campaign_id: int) -> Campaign:
    campaign = await Campaign.get_or_none(id=campaign_id)
    if campaign is None:
        raise NotFound("not_found", f"没有这个推送任务：{campaign_id}")
    return campaign


def _str(data: dict[str, Any], key: str, limit: int, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise Invalid("invalid", f"缺少 {key}")
        return None
    if not isinstance(value, str):
        raise Invalid("invalid", f"{key} 应为字符串")
    value = value.strip()
    if len(value) > limit:
        raise Invalid("invalid", f"{key} 不能超过 {limit} 个字符")
    return value


async def create(data: dict[str, Any], actor: Actor, settings: Settings) -> Campaign:
    """A draft campaign from the admin API body (see CONTRACT.md)."""
    title = _str(data, "title", 128, required=True)
    text = _str(data, "text", 1500) or ""
    policy_id = _str(data, "policy_id", 80)
    interpretation_id = _str(data, "interpretation_id", 80)
    if policy_id and not await Policy.exists(id=policy_id):
        raise Invalid("invalid", f"没有这个政策：{policy_id}")
    if interpretation_id:
        interpretation = await Interpretation.get_or_none(id=interpretation_id)
        if interpretation is None:
            raise Invalid("invalid", f"没有这个解读：{interpretation_id}")
    if not (text or policy_id or interpretation_id):
        raise Invalid("invalid", "推送内容需要 text、policy_id 或 interpretation_id 之一")
    try:
        channel = Channel(data.get("channel") or "")
    except ValueError:
        raise Invalid("invalid", "channel 应为 template、mass、customer、sms 或 email") from None
    if channel == Channel.sms and not settings.sms.enabled:
        raise Invalid("invalid", "未配置短信（[sms]），不能按短信推送")
    if channel == Channel.email and not settings.email.enabled:
        raise Invalid("invalid", "未配置电子邮件（[email]），不能按邮件推送")
    fallback = _fallback(data.get("fallback"), channel, settings)
    template_id = _str(data, "template_id", 128) or settings.wechat.template_id or None
    if channel == Channel.template and not template_id:
        raise Invalid("invalid", "模板消息需要 template_id（或配置 wechat.template_id）")
    try:
        aud = await audience.normalise(data.get("audience"), await known_regions())
    except audience.AudienceError as exc:
        raise Invalid("invalid", str(exc)) from None
    send_at = None
    if data.get("send_at"):
        try:
            send_at = parse_when(str(data["send_at"]), settings.server.tz)
        except ValueError:
            raise Invalid("invalid", "send_at 应为 ISO 8601 时间") from None
        if send_at < utcnow() - PAST_GRACE:
            local = send_at.astimezone(settings.server.tz).strftime("%Y-%m-%d %H:%M")
            raise Invalid("invalid", f"send_at 发送时间 {local} 已经过去，请选择将来的时间")
    cron = _str(data, "cron", 128)
    if cron:
        try:
            cron_trigger(cron, settings.server.tz)
        except ValueError as exc:
            raise Invalid("invalid", f"cron 规则无效：{exc}") from None
    campaign = await Campaign.create(
        title=title,
        text=text,
        policy_id=policy_id,
        interpretation_id=interpretation_id,
        audience=aud,
        channel=channel,
        send_at=send_at,
        cron=cron,
        template_id=template_id,
        fallback=fallback,
        fallback_delay=settings.push.fallback_delay_seconds,
        author=actor.name,
        audience_count=await audience.count(aud),
    )
    await _audit(actor, "campaign.create", campaign.id, channel=channel.value, audience=aud)
    log.info("campaign created", extra={"campaign": campaign.id, "author": actor.name})
    return campaign


def _fallback(value: Any, channel: Channel, settings: Settings) -> list[str]:
    """``fallback: ["sms", "email"]``: later channels for residents WeChat could not reach."""
    if value in (None, []):
        return []
    if channel in (Channel.sms, Channel.email):
        raise Invalid("invalid", "fallback 只用于微信渠道（template、mass、customer）的推送")
    if not isinstance(value, list) or not all(v in ("sms", "email") for v in value):
        raise Invalid("invalid", 'fallback 应为 ["sms", "email"] 中的一项或两项')
    configured = {"sms": settings.sms.enabled, "email": settings.email.enabled}
    missing = [v for v in value if not configured[v]]
    if missing:
        raise Invalid("invalid", f"fallback 渠道未配置：{'、'.join(missing)}")
    return list(dict.fromkeys(value))


def campaign_hash(campaign: Campaign) -> str:
    """The fingerprint of what a reviewer approves: message, audience, channel, schedule."""
    return content_hash(
        {
            "title": campaign.title,
            "text": campaign.text,
            "policy_id": campaign.policy_id,
            "interpretation_id": campaign.interpretation_id,
            "audience": campaign.audience,
            "channel": campaign.channel,
            "send_at": campaign.send_at,
            "cron": campaign.cron,
            "template_id": campaign.template_id,
            "fallback": campaign.fallback,
        }
    )


async def approve(campaign_id: int, actor: Actor, version_hash: str | None = None) -> Campaign:
    """A different person approves what they saw; a one-off send is scheduled, a cron rule armed.

    ``version_hash`` (from ``summary`` or the console form) binds the approval to the
    campaign as reviewed: a campaign changed since is refused."""
    campaign = await get(campaign_id)
    if campaign.state != CampaignState.draft:
        raise Conflict("conflict", f"推送任务当前为 {campaign.state.value}，只有草稿可以审核通过")
    if actor.name == campaign.author:
        raise Forbidden("forbidden", "不能审核自己创建的推送任务，请由另一位审核人审核")
    seen = campaign_hash(campaign)
    if version_hash is not None and version_hash != seen:
        raise Conflict("version_changed", "推送任务在您审阅后已被修改，请重新审阅后再审核")
    now = utcnow()
    if campaign.send_at and not campaign.cron and campaign.send_at < now - PAST_GRACE:
        # Approving late must not turn "Monday 09:00" into "right now".
        raise Conflict(
            "send_at_passed", "该推送任务的发送时间已过，请取消后重新创建并选择新的发送时间"
        )
    async with in_transaction():
        won = await Campaign.filter(id=campaign_id, state=CampaignState.draft).update(
            state=CampaignState.approved,
            approver=actor.name,
            approved_at=now,
            audience_count=await audience.count(campaign.audience or {}),
        )
        if not won:
            raise Conflict("conflict", "推送任务已被他人修改，请刷新后重试")
        if not campaign.cron:
            when = max(campaign.send_at or now, now)
            await CampaignRun.create(
                campaign_id=campaign_id, kind="scheduled", scheduled_for=when, created_by=actor.name
            )
        await Campaign.filter(id=campaign_id).update(state=CampaignState.scheduled)
    await _audit(actor, "campaign.approve", campaign_id, hash=seen)
    return await get(campaign_id)


async def cancel(campaign_id: int, actor: Actor) -> Campaign:
    """Stop now: pending runs are cancelled and queued deliveries skipped (workers notice within a second)."""
    campaign = await get(campaign_id)
    if campaign.state not in CANCELLABLE:
        raise Conflict("conflict", f"推送任务当前为 {campaign.state.value}，无法取消")
    now = utcnow()
    async with in_transaction():
        won = await Campaign.filter(id=campaign_id, state__in=CANCELLABLE).update(
            state=CampaignState.cancelled
        )
        if not won:
            raise Conflict("conflict", "推送任务已被他人修改，请刷新后重试")
        await CampaignRun.filter(
            campaign_id=campaign_id, state__in=[RunState.pending, RunState.sending]
        ).update(state=RunState.cancelled, finished_at=now, note=f"cancelled by {actor.name}")
        skipped = await Delivery.filter(
            campaign_id=campaign_id, state=DeliveryState.pending
        ).update(
            state=DeliveryState.skipped,
            error_message="cancelled",
            claimed_by=None,
            claimed_until=None,
        )
    await _audit(actor, "campaign.cancel", campaign_id, skipped=skipped)
    log.info("campaign cancelled", extra={"campaign": campaign_id, "skipped": skipped})
    return await get(campaign_id)


async def test_send(campaign_id: int, openids: Any, actor: Actor) -> CampaignRun:
    """Send the message before approval, only to the sender's own bound WeChat or to
    testers an admin registered (``openids`` names them; none means the sender's own).

    A test skips approval, so it must not reach residents: the recipients are
    bounded by ``bot.accounts``, and each account may test ``DAILY_TEST_SENDS``
    times a day (counted in the audit trail, which every test send writes).
    """
    campaign = await get(campaign_id)
    if campaign.state == CampaignState.cancelled:
        raise Conflict("conflict", "推送任务已取消")
    if openids is not None and (
        not isinstance(openids, list) or not all(isinstance(o, str) and o for o in openids)
    ):
        raise Invalid("invalid", "openids 应为 openid 或测试人员姓名的列表")
    recipients = await accounts.test_recipients(actor, openids or None)
    since = utcnow() - timedelta(days=1)
    sent = AuditEntry.filter(action="campaign.test_send", actor=actor.name, at__gte=since)
    if await sent.count() >= DAILY_TEST_SENDS:
        raise Forbidden("rate_limited", f"每个账号 24 小时内最多测试发送 {DAILY_TEST_SENDS} 次")
    run = await runs.create_test_run(campaign, recipients, actor.name)
    await _audit(actor, "campaign.test_send", campaign_id, run=run.id, openids=recipients)
    return run


async def retry_failed(campaign_id: int, actor: Actor) -> int:
    """Put failed deliveries of reachable residents back in the queue; returns how many."""
    campaign = await get(campaign_id)
    if campaign.state in (CampaignState.cancelled, CampaignState.draft):
        raise Conflict("conflict", f"推送任务当前为 {campaign.state.value}，无法重试")
    reachable = Subscriber.filter(following=True, blocked_reason__isnull=True).values("openid")
    async with in_transaction():
        # Conditional, and first: a cancel racing with this retry either wins before it
        # (409 here) or waits for this transaction, and then cancels what it re-queued.
        still_open = (
            await Campaign.filter(id=campaign_id)
            .exclude(state__in=(CampaignState.cancelled, CampaignState.draft))
            .update(last_error=None)
        )
        if not still_open:
            raise Conflict("conflict", "推送任务已被取消，无法重试")
        # Never one whom another channel (a fallback) reached meanwhile: once per campaign.
        reached = Delivery.filter(campaign_id=campaign_id, state=DeliveryState.sent)
        rows = Delivery.filter(
            campaign_id=campaign_id,
            state=DeliveryState.failed,
            openid__in=Subquery(reachable),
            run_id__in=Subquery(runs.real_run_ids(campaign_id)),
        ).exclude(openid__in=Subquery(reached.values("openid")))
        run_ids = list(set(await rows.values_list("run_id", flat=True)))
        count = await rows.update(
            state=DeliveryState.pending,
            attempts=0,
            next_attempt_at=None,
            error_code=None,
            error_message=None,
            claimed_by=None,
            claimed_until=None,
        )
        if count:
            await CampaignRun.filter(id__in=run_ids).update(
                state=RunState.sending, finished_at=None, materialized=True
            )
            await Campaign.filter(id=campaign_id).update(state=CampaignState.sending)
    await _audit(actor, "campaign.retry_failed", campaign_id, count=count)
    return count


async def send_to_new(campaign_id: int, actor: Actor) -> CampaignRun:
    """A follow-up run for residents who joined the audience after the campaign was sent."""
    campaign = await get(campaign_id)
    if campaign.state not in (CampaignState.done, CampaignState.failed):
        raise Conflict("conflict", "只有已发送完毕的推送任务才能补发给新订阅的居民")
    if campaign.cron:
        raise Conflict("conflict", "周期推送会在下次发送时覆盖新订阅的居民")
    now = utcnow()
    async with in_transaction():
        won = await Campaign.filter(
            id=campaign_id, state__in=(CampaignState.done, CampaignState.failed)
        ).update(state=CampaignState.scheduled)
        if not won:
            raise Conflict("conflict", "推送任务已被他人修改，请刷新后重试")
        run = await CampaignRun.create(
            campaign_id=campaign_id, kind="followup", scheduled_for=now, created_by=actor.name
        )
    await _audit(actor, "campaign.send_to_new", campaign_id, run=run.id)
    return run


async def new_audience_count(campaign: Campaign) -> int:
    """Residents in the audience now who never had a delivery of this campaign."""
    earlier = Delivery.filter(
        campaign_id=campaign.id, run_id__in=Subquery(runs.real_run_ids(campaign.id))
    ).values("openid")
    return (
        await audience.query(campaign.audience or {}).exclude(openid__in=Subquery(earlier)).count()
    )


async def counts(campaign: Campaign) -> dict[str, int]:
    """Delivery counts by state over the campaign's real sends (test sends excluded)."""
    return await runs.state_counts(
        campaign_id=campaign.id, run_id__in=Subquery(runs.real_run_ids(campaign.id))
    )


async def live_audience(campaign: Campaign) -> int:
    if campaign.state in (CampaignState.draft, CampaignState.approved, CampaignState.scheduled):
        return await audience.count(campaign.audience or {})
    return campaign.audience_count


async def summary(campaign: Campaign) -> dict[str, Any]:
    """What ``GET /api/v1/admin/campaigns/{id}`` answers."""
    total = await live_audience(campaign)
    data: dict[str, Any] = {
        "id": campaign.id,
        "title": campaign.title,
        "state": campaign.state.value,
        "channel": campaign.channel.value,
        "audience": campaign.audience,
        "audience_count": total,
        "send_at": _iso(campaign.send_at),
        "cron": campaign.cron,
        "author": campaign.author,
        "approver": campaign.approver,
        "version_hash": campaign_hash(campaign),
        "counts": await counts(campaign),
        "by_channel": await runs.channel_counts(campaign.id),
        "fallback": campaign.fallback,
        "last_error": campaign.last_error,
        "created_at": _iso(campaign.created_at),
    }
    if campaign.channel == Channel.mass:
        data["warning"] = MASS_PROTECTION_WARNING
    return data


async def report(
    campaign: Campaign, failures_limit: int = 500, *, with_new_audience: bool = True
) -> dict[str, Any]:
    """Counts by state and error code, the failures, the runs, and who joined since.

    Who joined since is a scan of the audience; pages that do not offer the follow-up
    send leave it out (``with_new_audience=False``; then it is reported as 0).
    """
    base = Delivery.filter(
        campaign_id=campaign.id, run_id__in=Subquery(runs.real_run_ids(campaign.id))
    )
    by_code = (
        await base.filter(state=DeliveryState.failed)
        .annotate(n=Count("id"))
        .group_by("error_code")
        .values("error_code", "n")
    )
    skipped = (
        await base.filter(state=DeliveryState.skipped)
        .annotate(n=Count("id"))
        .group_by("error_message")
        .values("error_message", "n")
    )
    retrying = await base.filter(state=DeliveryState.pending).filter(~Q(error_code=None)).count()
    failures = (
        await base.filter(state=DeliveryState.failed)
        .order_by("id")
        .limit(failures_limit)
        .values("openid", "error_code", "error_message", "attempts", "run_id")
    )
    run_rows = await CampaignRun.filter(campaign_id=campaign.id).order_by("id")
    out = await summary(campaign)
    out.update(
        {
            "errors": {str(r["error_code"]): r["n"] for r in by_code},
            "skipped_reasons": {str(r["error_message"]): r["n"] for r in skipped},
            "retrying": retrying,
            "failures": failures,
            "runs": [await _run_json(r) for r in run_rows],
            "new_audience": await new_audience_count(campaign)
            if with_new_audience and campaign.state in (CampaignState.done, CampaignState.failed)
            else 0,
        }
    )
    return out


async def _run_json(run: CampaignRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "kind": run.kind,
        "state": run.state.value,
        "scheduled_for": _iso(run.scheduled_for),
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "total": run.total,
        "note": run.note,
        "counts": await runs.state_counts(run_id=run.id),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def list_campaigns(
    state: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[int, list[Campaign]]:
    qs = Campaign.all()
    if state:
        qs = qs.filter(state=state)
    return await qs.count(), list(await qs.order_by("-id").offset(offset).limit(limit))
