"""When campaigns send: APScheduler 3 jobs rebuilt from the database.

The database is the source of truth: pending runs (one-off sends) and
scheduled cron campaigns. Jobs are derived from it at start and every few
seconds afterwards (so a campaign approved through another process's admin
API is picked up), and can be thrown away at any time. A run that was due
while the service was down starts at once if it is still within
``push.misfire_grace_seconds``; otherwise it is marked ``missed``, visibly.
Firing is idempotent across processes: starting a run is a conditional
update, and a cron fire is a unique (campaign, time) row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from tortoise.exceptions import IntegrityError

from bot.push import runs
from bot.push.clock import cron_trigger, utcnow
from bot.push.models import Campaign, CampaignRun, CampaignState, RunState

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger("bot.push")

RECONCILE_SECONDS = 2.0
TAG_SYNC_SECONDS = 300.0
MAX_MISSED_RECORDED = 20  # a long outage of a frequent cron: record the newest, count the rest


class PushScheduler:
    def __init__(self, services: Services, on_started: Callable[[], None] | None = None) -> None:
        self.services = services
        self.settings = services.settings
        self.tz = self.settings.server.tz
        self.grace = timedelta(seconds=self.settings.push.misfire_grace_seconds)
        self.on_started = on_started or (lambda: None)
        self.scheduler = AsyncIOScheduler(
            timezone=self.tz,
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": max(1, self.settings.push.misfire_grace_seconds),
            },
        )
        self._planned: dict[str, Any] = {}

    async def start(self) -> None:
        await self.reconcile(startup=True)
        self.scheduler.start()
        self.scheduler.add_job(
            self.reconcile, "interval", seconds=RECONCILE_SECONDS, id="push:reconcile"
        )
        if self.services.api.enabled:
            self.scheduler.add_job(
                self.sync_tags,
                "interval",
                seconds=TAG_SYNC_SECONDS,
                id="push:tags",
                next_run_time=utcnow() + timedelta(seconds=30),
            )
        log.info(
            "push scheduler started", extra={"timezone": str(self.tz), "jobs": len(self._planned)}
        )

    async def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    async def reconcile(self, startup: bool = False) -> None:
        """Make the job set match the database."""
        try:
            await self._reconcile(startup)
        except Exception:
            log.exception("rebuilding push jobs failed")

    async def _reconcile(self, startup: bool) -> None:
        from bot.eligibility.reminders import eligibility_due
        from bot.push.notify import prepare_pending  # notify → campaigns → this module

        now = utcnow()
        await prepare_pending(self.settings, now)  # the runs it approves are planned below
        await eligibility_due(self.settings, now)
        desired: dict[str, tuple[str, Any]] = {}
        cron_campaigns = await Campaign.filter(
            state__in=[CampaignState.scheduled, CampaignState.sending], cron__isnull=False
        )
        for campaign in cron_campaigns:
            if startup:
                await self._catch_up(campaign, now)
            desired[f"cron:{campaign.id}"] = ("cron", campaign.cron)
        for run in await CampaignRun.filter(state=RunState.pending).exclude(kind="test"):
            if run.scheduled_for < now - self.grace:
                await runs.mark_missed(run, now, self.grace)
                continue
            desired[f"run:{run.id}"] = ("date", run.scheduled_for)
        for job_id in [j for j in self._planned if j not in desired]:
            self._remove(job_id)
        for job_id, spec in desired.items():
            if self._planned.get(job_id) == spec:
                continue
            self._remove(job_id)
            self._add(job_id, spec, now)

    def _remove(self, job_id: str) -> None:
        self._planned.pop(job_id, None)
        if self.scheduler.get_job(job_id):
            self.scheduler.remove_job(job_id)

    def _add(self, job_id: str, spec: tuple[str, Any], now: datetime) -> None:
        kind, value = spec
        key = int(job_id.split(":")[1])
        if kind == "date":
            self.scheduler.add_job(
                self._fire_run, "date", run_date=max(value, now), args=[key], id=job_id
            )
        else:
            self.scheduler.add_job(
                self._fire_cron, cron_trigger(value, self.tz), args=[key], id=job_id
            )
        self._planned[job_id] = spec

    async def _fire_run(self, run_id: int) -> None:
        self._planned.pop(f"run:{run_id}", None)  # a date job runs once; re-add if still pending
        try:
            if await runs.start_run(run_id, self.settings):
                self.on_started()
        except Exception:
            log.exception("starting a run failed", extra={"run": run_id})

    async def _fire_cron(self, campaign_id: int) -> None:
        at = utcnow().replace(second=0, microsecond=0)
        try:
            campaign = await Campaign.get_or_none(id=campaign_id)
            if campaign is None or campaign.state not in (
                CampaignState.scheduled,
                CampaignState.sending,
            ):
                return
            if campaign.send_at and at < campaign.send_at:
                return  # the rule starts at send_at
            run = await self._cron_run(campaign, at, RunState.pending)
            if run is not None and await runs.start_run(run.id, self.settings):
                self.on_started()
        except Exception:
            log.exception("a repeating campaign failed to fire", extra={"campaign": campaign_id})

    async def _cron_run(
        self, campaign: Campaign, at: datetime, state: RunState, note: str | None = None
    ) -> CampaignRun | None:
        try:
            run, _ = await CampaignRun.get_or_create(
                campaign_id=campaign.id,
                kind="scheduled",
                scheduled_for=at,
                defaults={"state": state, "note": note},
            )
        except IntegrityError:
            return None  # another process recorded this fire
        return run

    async def _catch_up(self, campaign: Campaign, now: datetime) -> None:
        """Fires of a cron campaign that fell while the service was down."""
        last = (
            await CampaignRun.filter(campaign_id=campaign.id)
            .exclude(kind="test")
            .order_by("-scheduled_for")
            .first()
        )
        known = (last.scheduled_for if last else None, campaign.approved_at, campaign.send_at)
        since = max((d for d in known if d is not None), default=now)
        trigger = cron_trigger(campaign.cron or "", self.tz)
        fires: list[datetime] = []
        t = trigger.get_next_fire_time(None, since + timedelta(seconds=1))
        while t is not None and t <= now and len(fires) < 10_000:
            fires.append(t)
            t = trigger.get_next_fire_time(t, t + timedelta(seconds=1))
        if not fires:
            return
        due = [f for f in fires if f >= now - self.grace]
        missed = [f for f in fires if f < now - self.grace]
        for f in missed[-MAX_MISSED_RECORDED:]:
            note = f"missed: service not running at {f.isoformat()} (grace {int(self.grace.total_seconds())} s)"
            if len(missed) > MAX_MISSED_RECORDED and f == missed[-MAX_MISSED_RECORDED]:
                note += f"; {len(missed) - MAX_MISSED_RECORDED} earlier fires also missed"
            await self._cron_run(campaign, f.astimezone(now.tzinfo), RunState.missed, note)
        if missed:
            log.warning(
                "repeating campaign missed runs",
                extra={"campaign": campaign.id, "missed": len(missed)},
            )
        if due:
            run = await self._cron_run(
                campaign,
                due[-1].astimezone(now.tzinfo),
                RunState.pending,
                f"caught up at start-up ({len(due)} fire(s) within grace)",
            )
            if run is not None:
                log.info(
                    "repeating campaign caught up", extra={"campaign": campaign.id, "run": run.id}
                )

    async def sync_tags(self) -> None:
        from bot.push.tags import reconcile_all

        if await CampaignRun.filter(state=RunState.sending).exists():
            return  # deliveries first; a mass send reconciles its own tag before it goes out
        try:
            await reconcile_all(self.services.api)
        except Exception:
            log.exception("syncing topic tags failed")
