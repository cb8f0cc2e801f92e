"""The life of one send (a ``CampaignRun``): start, freeze the audience, finish.

Starting is a conditional update (pending → sending), so when several
worker processes fire the same job only one starts it. The audience is frozen
into delivery rows page by page before or while workers send; a crash midway
is resumed from the last openid written. A run is done when it has no
pending rows left; the campaign follows its runs.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Literal

from tortoise.expressions import Q, Subquery
from tortoise.functions import Count
from tortoise.queryset import ValuesQuery

from bot.catalog.models import Topic
from bot.config import Settings
from bot.push import audience
from bot.push.channels import channel_class
from bot.push.channels.base import Unit
from bot.push.clock import quiet_until, utcnow
from bot.push.models import (
    Campaign,
    CampaignRun,
    CampaignState,
    Channel,
    Delivery,
    DeliveryState,
    RunState,
)
from bot.wechat.api import WeChatAPI
from bot.wechat.errors import WeChatError

log = logging.getLogger("bot.push")

PAGE = 2000  # delivery rows written per statement
OPEN_CAMPAIGN = (CampaignState.approved, CampaignState.scheduled, CampaignState.sending)


def real_run_ids(campaign_id: int) -> ValuesQuery[Literal[False]]:
    """The campaign's runs that count (test sends excluded), as an ``id`` subquery source."""
    return CampaignRun.filter(campaign_id=campaign_id).exclude(kind="test").values("id")


async def start_run(run_id: int, settings: Settings, now: datetime | None = None) -> bool:
    """Start a due run (pending → sending), or postpone it in quiet hours."""
    now = now or utcnow()
    run = await CampaignRun.get_or_none(id=run_id).prefetch_related("campaign")
    if run is None or run.state != RunState.pending:
        return False
    campaign: Campaign = run.campaign
    if run.kind != "test" and campaign.state not in OPEN_CAMPAIGN:
        await CampaignRun.filter(id=run_id, state=RunState.pending).update(
            state=RunState.cancelled, finished_at=now, note=f"campaign is {campaign.state}"
        )
        return False
    if run.kind != "test":
        until = quiet_until(now, settings.push.quiet_hours, settings.server.tz)
        if until is not None:
            await postpone(run, until, settings)
            return False
    won = await CampaignRun.filter(id=run_id, state=RunState.pending).update(
        state=RunState.sending, started_at=now
    )
    if not won:
        return False
    if run.kind != "test":
        await Campaign.filter(id=campaign.id, state__in=OPEN_CAMPAIGN).update(
            state=CampaignState.sending
        )
    log.info("run started", extra={"campaign": campaign.id, "run": run_id, "kind": run.kind})
    # The delivery workers freeze the audience (under a lease, resumable after a crash).
    return True


async def postpone(run: CampaignRun, until: datetime, settings: Settings) -> None:
    """Quiet hours: move the run to the end of the window (never drop it)."""
    local = until.astimezone(settings.server.tz).strftime("%Y-%m-%d %H:%M")
    note = f"quiet hours: postponed from {run.scheduled_for.isoformat()} to {local}"
    clash = (
        await CampaignRun.filter(campaign_id=run.campaign_id, kind=run.kind, scheduled_for=until)
        .exclude(id=run.id)
        .first()
    )
    if clash is not None:
        # A repeating campaign fired several times in one night: the morning send covers them.
        await CampaignRun.filter(id=run.id, state=RunState.pending).update(
            state=RunState.merged,
            finished_at=utcnow(),
            note=f"merged into run {clash.id} (quiet hours)",
        )
        return
    await CampaignRun.filter(id=run.id, state=RunState.pending).update(
        scheduled_for=until, note=note
    )
    log.info("run postponed by quiet hours", extra={"run": run.id, "until": local})


async def _mass_tag(campaign: Campaign, api: WeChatAPI | None) -> int | None:
    """A mass send to one topic goes to the topic's WeChat tag; others by openid lists."""
    aud = campaign.audience or {}
    topics = aud.get("topics") or []
    if campaign.channel != Channel.mass or len(topics) != 1 or aud.get("regions"):
        return None
    topic = await Topic.get_or_none(id=topics[0])
    if topic is None:
        return None
    if topic.wechat_tag_id is None and api is not None and api.enabled:
        from bot.push.tags import ensure_tag

        try:
            return await ensure_tag(api, topic)
        except WeChatError as exc:
            log.warning(
                "no tag for the topic, sending by openid lists",
                extra={"topic": topic.id, "errcode": exc.code},
            )
    return topic.wechat_tag_id


async def materialize(run_id: int, settings: Settings, api: WeChatAPI | None = None) -> int:
    """Write one pending delivery per resident of the run's audience; resumable."""
    run = await CampaignRun.get(id=run_id).prefetch_related("campaign")
    if run.materialized:
        return run.total
    campaign: Campaign = run.campaign
    qs = audience.query(campaign.audience or {})
    if run.kind.startswith("fallback-"):
        return await _materialize_fallback(run, campaign)
    if run.kind == "followup":
        earlier = (
            Delivery.filter(campaign_id=campaign.id)
            .exclude(run_id=run.id)
            .filter(run_id__in=Subquery(real_run_ids(campaign.id)))
        )
        qs = qs.exclude(openid__in=Subquery(earlier.values("openid")))
    tag_id = await _mass_tag(campaign, api) if run.kind != "test" else None
    if tag_id is not None and run.mass_tag_id != tag_id:
        run.mass_tag_id = tag_id
        await run.save(update_fields=["mass_tag_id"])
    written = await Delivery.filter(run_id=run.id).count()
    last = (
        await Delivery.filter(run_id=run.id)
        .order_by("-openid")
        .first()
        .values_list("openid", flat=True)
    )
    if last:
        qs = qs.filter(openid__gt=last)
    kind = channel_class(campaign.channel.value)
    chunk_size = kind.chunk_size if kind is not None and kind.unit == Unit.chunk else 0
    async for page in audience.iter_openids(qs, PAGE):
        rows = []
        for openid in page:
            chunk = None
            if chunk_size:
                chunk = 0 if tag_id is not None else written // chunk_size
            rows.append(
                Delivery(
                    run_id=run.id,
                    campaign_id=campaign.id,
                    channel=campaign.channel,
                    openid=openid,
                    chunk=chunk,
                )
            )
            written += 1
        await Delivery.bulk_create(rows, ignore_conflicts=True)
    if chunk_size and tag_id is None:
        await _balance_last_chunk(run.id)
    total = await Delivery.filter(run_id=run.id).count()
    await CampaignRun.filter(id=run.id).update(materialized=True, total=total)
    log.info("audience frozen", extra={"campaign": campaign.id, "run": run.id, "total": total})
    return total


async def _materialize_fallback(run: CampaignRun, campaign: Campaign) -> int:
    """The residents the WeChat sends missed whose first reachable fallback is this channel.

    Never one who got the notice by any channel, never one a fallback already
    took (once per campaign). The choice is a function of the data, so after a
    crash midway the rerun computes the same rows and the unique (run, openid)
    drops the ones already written.
    """
    from bot import contacts

    real = Subquery(real_run_ids(campaign.id))
    wechat = [c for c in Channel if c not in (Channel.sms, Channel.email)]
    missed = set(
        await Delivery.filter(
            campaign_id=campaign.id,
            run_id__in=real,
            channel__in=wechat,
            state__in=[DeliveryState.failed, DeliveryState.skipped],
        ).values_list("openid", flat=True)
    )
    served = set(
        await Delivery.filter(campaign_id=campaign.id, run_id__in=real)
        .filter(Q(state=DeliveryState.sent) | Q(channel__in=[Channel.sms, Channel.email]))
        .exclude(run_id=run.id)
        .values_list("openid", flat=True)
    )
    candidates = sorted(str(o) for o in missed - served)
    mine: list[str] = []
    for start in range(0, len(candidates), PAGE):
        page = candidates[start : start + PAGE]
        left = set(page)
        for name in campaign.fallback:
            reachable = await contacts.reachable(sorted(left), name) if left else set()
            if name == run.channel:
                mine.extend(o for o in page if o in reachable)
                break
            left -= reachable  # an earlier fallback channel takes them
    rows = [
        Delivery(run_id=run.id, campaign_id=campaign.id, channel=run.channel, openid=o)
        for o in mine
    ]
    await Delivery.bulk_create(rows, ignore_conflicts=True, batch_size=PAGE)
    total = await Delivery.filter(run_id=run.id).count()
    await CampaignRun.filter(id=run.id).update(materialized=True, total=total)
    log.info("fallback frozen", extra={"campaign": campaign.id, "run": run.id, "total": total})
    return total


async def plan_fallback(run: CampaignRun) -> None:
    """After a WeChat send of a campaign with ``fallback``: one run per fallback channel, later."""
    if run.kind == "test" or run.kind.startswith("fallback-"):
        return
    campaign = await Campaign.get(id=run.campaign_id)
    if not campaign.fallback:
        return
    when = utcnow() + timedelta(seconds=campaign.fallback_delay)
    for name in campaign.fallback:
        await CampaignRun.get_or_create(
            campaign_id=campaign.id,
            kind=f"fallback-{name}",
            scheduled_for=when,
            defaults={"channel": Channel(name), "created_by": f"fallback of run {run.id}"},
        )


async def channel_counts(campaign_id: int) -> dict[str, dict[str, int]]:
    """``by_channel``: per channel the delivery states, delivered (provider reports) and opened."""
    base = Delivery.filter(campaign_id=campaign_id, run_id__in=Subquery(real_run_ids(campaign_id)))
    out: dict[str, dict[str, int]] = {}

    def of(channel: Any) -> dict[str, int]:
        return out.setdefault(str(channel), {s.value: 0 for s in DeliveryState})

    by_state = base.annotate(n=Count("id")).group_by("channel", "state")
    for row in await by_state.values("channel", "state", "n"):
        of(row["channel"])[str(row["state"])] = row["n"]
    for key, qs in (
        ("delivered", base.exclude(delivered_at=None)),
        ("opened", base.filter(opened=True)),
    ):
        for row in await qs.annotate(n=Count("id")).group_by("channel").values("channel", "n"):
            of(row["channel"])[key] = row["n"]
    return out


async def _balance_last_chunk(run_id: int) -> None:
    """mass/send needs at least two openids: never leave one alone in the last chunk."""
    rows = (
        await Delivery.filter(run_id=run_id)
        .annotate(n=Count("id"))
        .group_by("chunk")
        .values("chunk", "n")
    )
    sizes = {r["chunk"]: r["n"] for r in rows}
    if not sizes:
        return
    last = max(sizes)
    if sizes[last] == 1 and last > 0:
        mover = await Delivery.filter(run_id=run_id, chunk=last - 1).order_by("-id").first()
        if mover is not None:
            await Delivery.filter(id=mover.id).update(chunk=last)


async def create_test_run(campaign: Campaign, openids: list[str], actor: str) -> CampaignRun:
    """A test send to named openids: sent at once, outside the campaign's own counts."""
    now = utcnow()
    run = await CampaignRun.create(
        campaign=campaign,
        kind="test",
        scheduled_for=now,
        state=RunState.sending,
        started_at=now,
        created_by=actor,
    )
    rows = [
        Delivery(
            run_id=run.id, campaign_id=campaign.id, channel=campaign.channel, openid=o, chunk=None
        )
        for o in dict.fromkeys(openids)
    ]
    await Delivery.bulk_create(rows, ignore_conflicts=True)
    await CampaignRun.filter(id=run.id).update(materialized=True, total=len(rows))
    run.materialized, run.total = True, len(rows)
    return run


async def state_counts(**filters: Any) -> dict[str, int]:
    rows = (
        await Delivery.filter(**filters)
        .annotate(n=Count("id"))
        .group_by("state")
        .values("state", "n")
    )
    counts = {s.value: 0 for s in DeliveryState}
    for row in rows:
        counts[str(row["state"])] = row["n"]
    return counts


async def finish_if_complete(run_id: int) -> bool:
    """Close a run with nothing pending; move its campaign on (done, failed, or next cron)."""
    run = await CampaignRun.get_or_none(id=run_id)
    if run is None or run.state != RunState.sending or not run.materialized:
        return False
    if await Delivery.filter(run_id=run_id, state=DeliveryState.pending).exists():
        return False
    counts = await state_counts(run_id=run_id)
    won = await CampaignRun.filter(id=run_id, state=RunState.sending).update(
        state=RunState.done, finished_at=utcnow()
    )
    if not won:
        return False
    log.info("run finished", extra={"campaign": run.campaign_id, "run": run_id, "counts": counts})
    if run.kind != "test":
        await plan_fallback(run)
        failed = (
            counts["sent"] == 0 and counts["failed"] > 0 and not run.kind.startswith("fallback-")
        )
        await settle_campaign(run.campaign_id, failed=failed)
    return True


async def settle_campaign(
    campaign_id: int, *, failed: bool = False, error: str | None = None
) -> None:
    """After a run ends: wait for the next one, or close the campaign."""
    campaign = await Campaign.get(id=campaign_id)
    if campaign.state not in OPEN_CAMPAIGN:
        return
    busy = (
        await CampaignRun.filter(
            campaign_id=campaign_id, state__in=[RunState.pending, RunState.sending]
        )
        .exclude(kind="test")
        .exists()
    )
    if busy:
        state = (
            CampaignState.scheduled
            if not await CampaignRun.filter(campaign_id=campaign_id, state=RunState.sending)
            .exclude(kind="test")
            .exists()
            else CampaignState.sending
        )
    elif campaign.cron:
        state = CampaignState.scheduled
    else:
        state = CampaignState.failed if failed else CampaignState.done
    update: dict[str, Any] = {"state": state}
    if error:
        update["last_error"] = error
    await Campaign.filter(id=campaign_id, state__in=OPEN_CAMPAIGN).update(**update)


async def fail_run(run_id: int, code: int | str | None, message: str) -> None:
    """A refusal that concerns the whole send (bad template, API not authorised, demo mode)."""
    run = await CampaignRun.get(id=run_id)
    await Delivery.filter(run_id=run_id, state=DeliveryState.pending).update(
        state=DeliveryState.failed,
        error_code=code if isinstance(code, int) else None,
        reason=None if code is None else str(code)[:64],
        error_message=message[:255],
        claimed_by=None,
        claimed_until=None,
    )
    await CampaignRun.filter(id=run_id, state=RunState.sending).update(
        state=RunState.failed, finished_at=utcnow(), note=f"{code}: {message}"[:500]
    )
    log.error("run failed", extra={"campaign": run.campaign_id, "run": run_id, "errcode": code})
    if run.kind != "test":
        await settle_campaign(run.campaign_id, failed=True, error=f"{code}: {message}")


async def mark_missed(run: CampaignRun, now: datetime, grace: timedelta) -> None:
    """The service was down past the grace window: record it, never drop it silently."""
    note = (
        f"missed: due {run.scheduled_for.isoformat()}, service not running until "
        f"{now.isoformat()} (grace {int(grace.total_seconds())} s)"
    )
    won = await CampaignRun.filter(id=run.id, state=RunState.pending).update(
        state=RunState.missed, finished_at=now, note=note
    )
    if won:
        log.warning("run missed", extra={"campaign": run.campaign_id, "run": run.id})
        campaign = await Campaign.get(id=run.campaign_id)
        if not campaign.cron:
            await Campaign.filter(id=campaign.id, state__in=OPEN_CAMPAIGN).update(
                state=CampaignState.failed, last_error=note
            )
