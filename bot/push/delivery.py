"""Delivery workers: claim pending rows, call the channel under its rate ceiling, record.

The machinery only; each way of reaching residents is a channel in
``bot/push/channels/`` (``DeliveryChannel``: its unit of work, eligibility,
the call, and how its failures split). One claimer per process takes batches
of pending deliveries (PostgreSQL: ``SELECT … FOR UPDATE SKIP LOCKED`` so many
processes never claim the same row; SQLite: a conditional UPDATE of
``claimed_by``/``claimed_until``), each provider has a lane (its token
bucket, queue and pool of senders, so a slow SMS provider never holds the
senders WeChat needs), and a recorder writes outcomes in small batches. A
row is only ever ``sent`` after the provider said so; a crash between the
provider's answer and the write is the one at-least-once window, at most
``FLUSH_EVERY`` seconds of sends. Channels whose provider drops a
resend close it (WeChat's ``client_msg_id``/``clientmsgid``); for the others
(SMS) each acknowledgement is written before the sender takes its next job,
so at most ``push.workers`` of them are ever unrecorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from bot.db import is_postgres
from bot.leases import release_lease, try_lease
from bot.metrics import PUSH_DELIVERIES
from bot.push import runs as runs_mod
from bot.push.channels import open_channels
from bot.push.channels.base import Failure, Fate, Item, RunInfo, Unit
from bot.push.clock import quiet_until, utcnow
from bot.push.leases import new_worker_id, release_dead_claims
from bot.push.message import build
from bot.push.models import CampaignRun, Delivery, DeliveryState, RunState
from bot.push.ratelimit import TokenBucket

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger("bot.push")

LEASE = timedelta(seconds=60)  # a claim outlives a batch many times over
POLL = 1.0  # seconds between looks for due work when idle
RUNS_REFRESH = 1.0  # cancellation is noticed within this many seconds
FLUSH_EVERY = 0.1  # seconds; bounds the acknowledged-but-unrecorded window
FLUSH_SIZE = 200
UNAVAILABLE = "channel not configured"


@dataclass
class Lane:
    """One provider's ceiling, queue and senders: a slow provider never holds a fast one's."""

    bucket: TokenBucket
    queue: asyncio.Queue[Job]

    def room(self) -> int:
        return self.queue.maxsize - self.queue.qsize()


@dataclass(slots=True)
class Job:
    run: RunInfo
    items: list[Item]


@dataclass(slots=True)
class Outcome:
    ids: list[int]
    state: DeliveryState | None  # None: try again at ``next_at``
    code: int | str | None = None
    message: str | None = None
    msgid: str | None = None
    next_at: datetime | None = None
    count_attempt: bool = True
    channel: str = ""  # for the metrics


@dataclass
class Stats:
    calls: int = 0
    db_seconds: float = 0.0
    outcomes: Counter[str] = field(default_factory=Counter)


class DeliveryEngine:
    """The delivery side of a worker process (``push_runtime`` starts and stops it)."""

    def __init__(self, services: Services, worker_id: str | None = None) -> None:
        self.services = services
        self.settings = services.settings
        self.api = services.api
        self.cfg = self.settings.push
        self.worker_id = worker_id or new_worker_id()
        self.channels = open_channels(services)
        self.lanes: dict[str, Lane] = {}
        for channel in self.channels.values():
            if channel.bucket not in self.lanes:
                rate = channel.rate()
                size = max(2, min(self.cfg.batch_size, int(rate * 2)) * 2)  # about 2-4 s of work
                self.lanes[channel.bucket] = Lane(TokenBucket(rate), asyncio.Queue(maxsize=size))
        self.results: list[Outcome] = []
        self.runs: dict[int, RunInfo] = {}
        self.stats = Stats()
        self._wake = asyncio.Event()
        self._flushed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._materializing: set[int] = set()
        self._checked: dict[int, float] = {}
        self._side_tasks: set[asyncio.Task[None]] = set()
        self._in_flight = 0
        self._seq = 0
        self._runs_at = 0.0
        self._stopping = False
        self._pg = is_postgres(self.settings.database.url)

    # --- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        await release_dead_claims()
        self._tasks.append(asyncio.create_task(self._claim_loop(), name="push-claimer"))
        self._tasks.append(asyncio.create_task(self._record_loop(), name="push-recorder"))
        for name, lane in self.lanes.items():
            for i in range(self.cfg.workers):
                task = asyncio.create_task(self._send_loop(lane), name=f"push-{name}-{i}")
                self._tasks.append(task)
        log.info(
            "delivery workers started",
            extra={
                "worker": self.worker_id,
                "senders": self.cfg.workers,
                "rate": self.cfg.rate_per_second,
            },
        )

    async def stop(self) -> None:
        """Stop claiming, hand back what is queued, let calls in flight finish, record."""
        self._stopping = True
        claimer, recorder, *senders = self._tasks
        claimer.cancel()
        for task in list(self._side_tasks):
            task.cancel()
        leftover: list[int] = []
        for lane in self.lanes.values():
            while not lane.queue.empty():
                leftover.extend(i.id for i in lane.queue.get_nowait().items)
        deadline = time.monotonic() + 10
        while self._in_flight and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for task in senders:
            task.cancel()
        recorder.cancel()
        await asyncio.gather(*self._tasks, *self._side_tasks, return_exceptions=True)
        await self._flush()
        if leftover:
            await Delivery.filter(id__in=leftover, state=DeliveryState.pending).update(
                claimed_by=None, claimed_until=None
            )
        log.info("delivery workers stopped", extra={"worker": self.worker_id})

    def wake(self) -> None:
        """Look for work now (a run was approved or started in this process)."""
        self._runs_at = 0.0
        self._wake.set()

    def _claim_size(self) -> int:
        return max(1, min(self.cfg.batch_size, int(self.cfg.rate_per_second * 2)))

    # --- claiming ---------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        while not self._stopping:
            try:
                jobs = await self._claim_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("claiming deliveries failed")
                jobs = []
                await asyncio.sleep(POLL)
            if not jobs:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), POLL)
                self._wake.clear()
                continue
            for job in jobs:
                await self.lanes[job.run.channel.bucket].queue.put(job)

    async def _claim_once(self) -> list[Job]:
        now = utcnow()
        await self._refresh_runs()
        quiet = quiet_until(now, self.cfg.quiet_hours, self.settings.server.tz) is not None
        active = [
            r for r in self.runs.values() if not r.cancelled and (r.kind == "test" or not quiet)
        ]
        if not active:
            return []
        # Claim only for providers whose queue has room; the others are still being sent.
        open_runs = [r for r in active if self.lanes[r.channel.bucket].room() > 0]
        tests = [r for r in open_runs if r.kind == "test"]
        jobs: list[Job] = []
        for group in (tests, [r for r in open_runs if r.kind != "test"]):
            per_item = [r for r in group if r.channel.unit == Unit.resident]
            if per_item:
                jobs.extend(await self._claim_items(per_item, now))
            for run in group:
                if run.channel.unit == Unit.chunk and run.materialized and not jobs:
                    jobs.extend(await self._claim_chunk(run, now))
            if jobs:
                break
        busy = {j.run.id for j in jobs}
        await self._finish([r for r in active if r.id not in busy])
        return jobs

    async def _refresh_runs(self) -> None:
        if time.monotonic() - self._runs_at < RUNS_REFRESH:
            return
        started = time.perf_counter()
        rows = await CampaignRun.filter(state=RunState.sending).prefetch_related("campaign")
        self.stats.db_seconds += time.perf_counter() - started
        self._runs_at = time.monotonic()
        seen = set()
        for run in rows:
            seen.add(run.id)
            info = self.runs.get(run.id)
            if info is None:
                campaign = run.campaign
                name = (run.channel or campaign.channel).value
                channel = self.channels.get(name)
                if channel is None:
                    await runs_mod.fail_run(run.id, None, f"{UNAVAILABLE}: {name}")
                    continue
                topics = (campaign.audience or {}).get("topics") or []
                info = RunInfo(
                    id=run.id,
                    campaign_id=campaign.id,
                    kind=run.kind,
                    channel=channel.for_test() if run.kind == "test" else channel,
                    message=await build(campaign, self.settings),
                    template_id=campaign.template_id or self.settings.wechat.template_id,
                    mass_tag_id=run.mass_tag_id,
                    topic_id=topics[0] if len(topics) == 1 else None,
                    materialized=run.materialized,
                )
                self.runs[run.id] = info
            info.materialized = run.materialized
            info.mass_tag_id = run.mass_tag_id
            info.cancelled = False
            if not run.materialized and run.id not in self._materializing:
                self._materializing.add(run.id)
                task = asyncio.create_task(self._materialize(run.id), name=f"push-freeze-{run.id}")
                self._side_tasks.add(task)
                task.add_done_callback(self._side_tasks.discard)
        for run_id, info in list(self.runs.items()):
            if run_id not in seen:
                info.cancelled = True  # cancelled, failed or finished: drop anything queued
                if not self._in_flight and all(lane.queue.empty() for lane in self.lanes.values()):
                    del self.runs[run_id]

    async def _materialize(self, run_id: int) -> None:
        name = f"push:materialize:{run_id}"
        try:
            if await try_lease(name, self.worker_id, 300):
                try:
                    await runs_mod.materialize(run_id, self.settings, self.api)
                finally:
                    await release_lease(name, self.worker_id)
                self.wake()
        except Exception:
            log.exception("freezing the audience failed", extra={"run": run_id})
        finally:
            self._materializing.discard(run_id)

    def _claimable(self, now: datetime) -> Q:
        return (Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)) & (
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
        )

    def _token(self) -> str:
        self._seq += 1
        return f"{self.worker_id}:{self._seq}"

    async def _claim_rows(self, base: Q, limit: int, now: datetime) -> list[Item]:
        """Claim up to ``limit`` rows matching ``base``; never a row another worker holds.

        No ORDER BY: sorting every pending row of a 100,000-resident run per
        batch would make each claim cost grow with the audience; the index
        (run_id, state, next_attempt_at) is walked and the scan stops at the limit.
        """
        started = time.perf_counter()
        token = self._token()
        until = now + LEASE
        fields = ("id", "run_id", "openid", "attempts", "chunk")
        free = Q(state=DeliveryState.pending) & self._claimable(now)
        cond = base & free
        if self._pg:
            async with in_transaction() as conn:
                ids = (
                    await Delivery.filter(cond)
                    .using_db(conn)
                    .select_for_update(skip_locked=True)
                    .limit(limit)
                    .values_list("id", flat=True)
                )
                if ids:
                    await (
                        Delivery.filter(id__in=ids)
                        .using_db(conn)
                        .update(claimed_by=token, claimed_until=until)
                    )
                rows = (
                    await Delivery.filter(id__in=ids).using_db(conn).values(*fields) if ids else []
                )
        else:
            ids = await Delivery.filter(cond).limit(limit).values_list("id", flat=True)
            rows = []
            if ids:
                # Conditional: a row another process claimed meanwhile no longer matches.
                # Only the primary key narrows it (an index on run or state would scan the run).
                await Delivery.filter(Q(id__in=ids) & free).update(
                    claimed_by=token, claimed_until=until
                )
                rows = await Delivery.filter(id__in=ids, claimed_by=token).values(*fields)
        self.stats.db_seconds += time.perf_counter() - started
        return [Item(r["id"], r["run_id"], r["openid"], r["attempts"], r["chunk"]) for r in rows]

    async def _claim_items(self, runs: list[RunInfo], now: datetime) -> list[Job]:
        """Each running send gets its share of a batch and of its provider's queue room."""
        per_lane = Counter(r.channel.bucket for r in runs)
        jobs: list[Job] = []
        for run in runs:
            room = self.lanes[run.channel.bucket].room() // per_lane[run.channel.bucket]
            share = max(1, min(self._claim_size() // len(runs), room))
            claimed = await self._claim_rows(Q(run_id=run.id), share, now)
            if claimed:
                jobs.extend(Job(run, [i]) for i in await self._admit(run, claimed, now))
        return jobs

    async def _claim_chunk(self, run: RunInfo, now: datetime) -> list[Job]:
        """The unit of work is one call: every row of the lowest pending chunk."""
        cond = Q(run_id=run.id, state=DeliveryState.pending) & self._claimable(now)
        chunk = (
            await Delivery.filter(cond).order_by("chunk").first().values_list("chunk", flat=True)
        )
        if chunk is None:
            return []
        items = await self._claim_rows(Q(run_id=run.id, chunk=chunk), run.channel.chunk_size, now)
        items = await self._admit(run, items, now) if items else []
        return [Job(run, items)] if items else []

    async def _admit(self, run: RunInfo, items: list[Item], now: datetime) -> list[Item]:
        """The channel's eligibility: record the rows it will not send, keep the rest."""
        keep, skips = await run.channel.eligible(run, items, now)
        for skip in skips:
            ids = [i.id for i in skip.items]
            if skip.until is None:
                self._record(
                    Outcome(
                        ids, DeliveryState.skipped, message=skip.reason, channel=run.channel.name
                    )
                )
            else:
                self._record(
                    Outcome(ids, None, message=skip.reason, next_at=skip.until, count_attempt=False)
                )
        return keep

    async def _finish(self, runs: list[RunInfo]) -> None:
        """Close runs with nothing pending (checked at most once a second per run)."""
        now = time.monotonic()
        for run in runs:
            if run.materialized and now - self._checked.get(run.id, 0.0) >= RUNS_REFRESH:
                self._checked[run.id] = now
                started = time.perf_counter()
                if await runs_mod.finish_if_complete(run.id):
                    self._runs_at = 0.0
                self.stats.db_seconds += time.perf_counter() - started

    # --- sending ----------------------------------------------------------------------

    async def _send_loop(self, lane: Lane) -> None:
        while True:
            job = await lane.queue.get()
            if lane.queue.qsize() < lane.queue.maxsize // 2:
                self._wake.set()  # room again: the claimer may fetch more for this provider
            self._in_flight += 1
            try:
                await self._send(job)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sending a delivery failed", extra={"run": job.run.id})
                self._retry(job.items, None, "internal error", count=True)
            finally:
                self._in_flight -= 1

    async def _send(self, job: Job) -> None:
        run = job.run
        if run.cancelled:
            return  # the cancel already marked these rows skipped
        ids = [i.id for i in job.items]
        if run.kind != "test" and quiet_until(
            utcnow(), self.cfg.quiet_hours, self.settings.server.tz
        ):
            await Delivery.filter(id__in=ids, state=DeliveryState.pending).update(
                claimed_by=None, claimed_until=None
            )
            return
        channel = run.channel
        await self.lanes[channel.bucket].bucket.acquire()
        self.stats.calls += 1
        try:
            msgid = await channel.send(run, job.items)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failure = channel.classify(exc)
            if failure is None:
                raise
            await self._refused(job, failure)
        else:
            sent = Outcome(ids, DeliveryState.sent, msgid=msgid, channel=channel.name)
            if channel.deduplicates:
                self._record(sent)
            else:
                await self._record_now(sent)

    async def _record_now(self, outcome: Outcome) -> None:
        """Write an acknowledgement at once: the provider would not drop a resend."""
        started = time.perf_counter()
        try:
            await self._write([outcome])
        except Exception:
            log.exception("recording a delivery failed; queued for the next flush")
            self.results.append(outcome)
        finally:
            self.stats.db_seconds += time.perf_counter() - started
        self.stats.outcomes[DeliveryState.sent.value] += len(outcome.ids)
        PUSH_DELIVERIES.labels(outcome.channel, DeliveryState.sent.value).inc(len(outcome.ids))

    async def _refused(self, job: Job, failure: Failure) -> None:
        channel = job.run.channel
        if failure.fate == Fate.fatal:
            await runs_mod.fail_run(job.run.id, failure.code, failure.message)
            self._runs_at = 0.0
        elif failure.fate == Fate.rate_limited:
            self.lanes[channel.bucket].bucket.slow_down()
            delay = failure.delay if failure.delay is not None else 30 + random.random() * 30
            self._retry(job.items, failure, delay=delay, count=False)
        elif failure.fate == Fate.transient:
            self._retry(job.items, failure, delay=failure.delay, count=failure.counts)
        else:
            ids = [i.id for i in job.items]
            message = failure.message[:255]
            self._record(
                Outcome(ids, DeliveryState.failed, failure.code, message, channel=channel.name)
            )
            if failure.about_resident and len(job.items) == 1:
                await channel.refused(job.items[0], failure)

    def _retry(
        self,
        items: list[Item],
        failure: Failure | None,
        msg: str | None = None,
        *,
        delay: float | None = None,
        count: bool = True,
    ) -> None:
        code = failure.code if failure else None
        message = (failure.message if failure else msg or "")[:255]
        attempts = max(i.attempts for i in items) + (1 if count else 0)
        if count and attempts >= self.cfg.max_attempts:
            self._record(
                Outcome(
                    [i.id for i in items],
                    DeliveryState.failed,
                    code,
                    f"gave up after {attempts} attempts: {message}"[:255],
                )
            )
            return
        if delay is None:
            delay = min(2 ** max(0, attempts - 1), 300) * (0.75 + random.random() / 2)
        self._record(
            Outcome(
                [i.id for i in items],
                None,
                code,
                message,
                next_at=utcnow() + timedelta(seconds=delay),
                count_attempt=count,
            )
        )

    # --- recording --------------------------------------------------------------------

    def _record(self, outcome: Outcome) -> None:
        self.results.append(outcome)
        if outcome.state is not None and outcome.channel:
            PUSH_DELIVERIES.labels(outcome.channel, outcome.state.value).inc(len(outcome.ids))
        self.stats.outcomes[outcome.state.value if outcome.state else "retry"] += len(outcome.ids)
        if len(self.results) >= FLUSH_SIZE:
            self._flushed.set()

    async def _record_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flushed.wait(), FLUSH_EVERY)
            self._flushed.clear()
            try:
                await self._flush()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("recording delivery outcomes failed; will retry")
                await asyncio.sleep(POLL)

    async def _flush(self) -> None:
        if not self.results:
            return
        batch, self.results = self.results, []
        started = time.perf_counter()
        try:
            await self._write(batch)
        except Exception:
            self.results[:0] = batch  # keep them for the next flush
            raise
        finally:
            self.stats.db_seconds += time.perf_counter() - started

    async def _write(self, batch: list[Outcome]) -> None:
        now = utcnow()
        released = {"claimed_by": None, "claimed_until": None}
        # One statement for every row sent alone (its own provider id set in a second one);
        # a mass chunk shares one msg_id and is written apart.
        sent_plain = [
            i
            for o in batch
            if o.state == DeliveryState.sent and (not o.msgid or len(o.ids) == 1)
            for i in o.ids
        ]
        msgids = [
            Delivery(id=o.ids[0], wechat_msgid=o.msgid)
            for o in batch
            if o.state == DeliveryState.sent and o.msgid and len(o.ids) == 1
        ]
        async with in_transaction() as conn:
            if sent_plain:
                await (
                    Delivery.filter(id__in=sent_plain)
                    .using_db(conn)
                    .update(
                        state=DeliveryState.sent,
                        sent_at=now,
                        attempts=F("attempts") + 1,
                        error_code=None,
                        error_message=None,
                        reason=None,
                        **released,
                    )
                )
            if msgids:
                await Delivery.bulk_update(msgids, fields=["wechat_msgid"], using_db=conn)
            for o in batch:
                if o.state == DeliveryState.sent and o.msgid and len(o.ids) > 1:
                    await (
                        Delivery.filter(id__in=o.ids)
                        .using_db(conn)
                        .update(
                            state=DeliveryState.sent,
                            sent_at=now,
                            attempts=F("attempts") + 1,
                            wechat_msgid=o.msgid,
                            error_code=None,
                            error_message=None,
                            reason=None,
                            **released,
                        )
                    )
                elif o.state in (DeliveryState.failed, DeliveryState.skipped):
                    await (
                        Delivery.filter(id__in=o.ids, state=DeliveryState.pending)
                        .using_db(conn)
                        .update(
                            state=o.state,
                            error_code=o.code if isinstance(o.code, int) else None,
                            reason=None if o.code is None else str(o.code)[:64],
                            error_message=o.message,
                            attempts=F("attempts") + (1 if o.state == DeliveryState.failed else 0),
                            **released,
                        )
                    )
                elif o.state is None:
                    await (
                        Delivery.filter(id__in=o.ids, state=DeliveryState.pending)
                        .using_db(conn)
                        .update(
                            attempts=F("attempts") + (1 if o.count_attempt else 0),
                            next_attempt_at=o.next_at,
                            error_code=o.code if isinstance(o.code, int) else None,
                            reason=None if o.code is None else str(o.code)[:64],
                            error_message=o.message,
                            **released,
                        )
                    )
