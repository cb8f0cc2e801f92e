"""Delivery workers: claim pending rows, call WeChat under a rate ceiling, record.

One claimer per process takes batches of pending deliveries (PostgreSQL:
``SELECT … FOR UPDATE SKIP LOCKED`` so many processes never claim the same
row; SQLite: a conditional UPDATE of ``claimed_by``/``claimed_until``), a
pool of senders makes the calls through one token bucket, and a recorder
writes outcomes in small batches. A row is only ever ``sent`` after WeChat
said so; a crash between WeChat's answer and the write is the one
at-least-once window, which template sends close with ``client_msg_id``
(WeChat drops a resend of the same id within 10 minutes) and mass sends
with a deterministic ``clientmsgid`` (45065 returns the earlier msg_id).
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
from typing import TYPE_CHECKING, Any

from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from bot.db import is_postgres
from bot.leases import release_lease, try_lease
from bot.models import Subscriber
from bot.push import runs as runs_mod
from bot.push.clock import month_start, quiet_until, utcnow
from bot.push.leases import new_worker_id, release_dead_claims
from bot.push.message import Message, build
from bot.push.models import CampaignRun, Channel, Delivery, DeliveryState, RunState
from bot.wechat.errors import BAD_ANSWER, DEMO_MODE, WeChatError

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger("bot.push")

LEASE = timedelta(seconds=60)  # a claim outlives a batch many times over
POLL = 1.0  # seconds between looks for due work when idle
RUNS_REFRESH = 1.0  # cancellation is noticed within this many seconds
FLUSH_EVERY = 0.1  # seconds; bounds the acknowledged-but-unrecorded window
FLUSH_SIZE = 200
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
RUN_FATAL = frozenset({DEMO_MODE, BAD_ANSWER, 40013, 40125, 40037, 41028, 47001, 48001, 40164})
CUSTOMER_WINDOW = timedelta(hours=48)
CUSTOMER_LIMIT = 4  # WeChat allows 5 per window; one is kept for answering the resident


@dataclass(slots=True)
class Item:
    id: int
    run_id: int
    openid: str
    attempts: int
    chunk: int | None


@dataclass
class RunInfo:
    id: int
    campaign_id: int
    kind: str
    channel: Channel
    message: Message
    template_id: str
    mass_tag_id: int | None
    topic_id: str | None
    materialized: bool
    cancelled: bool = False


@dataclass(slots=True)
class Job:
    run: RunInfo
    items: list[Item]


@dataclass(slots=True)
class Outcome:
    ids: list[int]
    state: DeliveryState | None  # None: try again at ``next_at``
    code: int | None = None
    message: str | None = None
    msgid: str | None = None
    next_at: datetime | None = None
    count_attempt: bool = True


@dataclass
class Stats:
    calls: int = 0
    db_seconds: float = 0.0
    outcomes: Counter[str] = field(default_factory=Counter)


class DeliveryEngine:
    """The delivery side of a worker process (``push_runtime`` starts and stops it)."""

    def __init__(self, services: Services, worker_id: str | None = None) -> None:
        from bot.push.ratelimit import TokenBucket

        self.services = services
        self.settings = services.settings
        self.api = services.api
        self.cfg = self.settings.push
        self.worker_id = worker_id or new_worker_id()
        self.bucket = TokenBucket(self.cfg.rate_per_second)
        self.queue: asyncio.Queue[Job] = asyncio.Queue(maxsize=max(2, self._claim_size() * 2))
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
        for i in range(self.cfg.workers):
            self._tasks.append(asyncio.create_task(self._send_loop(), name=f"push-sender-{i}"))
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
        while not self.queue.empty():
            leftover.extend(i.id for i in self.queue.get_nowait().items)
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
                await self.queue.put(job)

    async def _claim_once(self) -> list[Job]:
        now = utcnow()
        await self._refresh_runs()
        quiet = quiet_until(now, self.cfg.quiet_hours, self.settings.server.tz) is not None
        active = [
            r for r in self.runs.values() if not r.cancelled and (r.kind == "test" or not quiet)
        ]
        if not active:
            return []
        tests = [r for r in active if r.kind == "test"]
        jobs: list[Job] = []
        for group in (tests, [r for r in active if r.kind != "test"]):
            per_item = [r for r in group if r.channel != Channel.mass or r.kind == "test"]
            if per_item:
                jobs.extend(await self._claim_items(per_item, now))
            for run in group:
                if (
                    run.channel == Channel.mass
                    and run.kind != "test"
                    and run.materialized
                    and not jobs
                ):
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
                topics = (campaign.audience or {}).get("topics") or []
                info = RunInfo(
                    id=run.id,
                    campaign_id=campaign.id,
                    kind=run.kind,
                    channel=campaign.channel,
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
                if not self._in_flight and self.queue.empty():
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
        by_id = {r.id: r for r in runs}
        items = await self._claim_rows(Q(run_id__in=list(by_id)), self._claim_size(), now)
        if not items:
            return []
        jobs = [Job(by_id[i.run_id], [i]) for i in items]
        customer = [j for j in jobs if j.run.channel == Channel.customer]
        if customer:
            jobs = [j for j in jobs if j.run.channel != Channel.customer]
            jobs.extend(await self._customer_window(customer, now))
        return jobs

    async def _customer_window(self, jobs: list[Job], now: datetime) -> list[Job]:
        """Customer messages only inside the 48 h window and its message count."""
        openids = [j.items[0].openid for j in jobs]
        active = dict(
            await Subscriber.filter(openid__in=openids).values_list("openid", "last_active_at")
        )
        recent = await Delivery.filter(
            openid__in=openids,
            channel=Channel.customer,
            state=DeliveryState.sent,
            sent_at__gte=now - CUSTOMER_WINDOW,
        ).values_list("openid", "sent_at")
        keep = []
        for job in jobs:
            item = job.items[0]
            last = active.get(item.openid)
            if last is None or now - last > CUSTOMER_WINDOW:
                self._record(
                    Outcome([item.id], DeliveryState.skipped, message="48 小时内未与公众号互动")
                )
                continue
            used = sum(1 for o, at in recent if o == item.openid and at >= last)
            if used >= CUSTOMER_LIMIT:
                self._record(
                    Outcome(
                        [item.id], DeliveryState.skipped, message="customer message limit reached"
                    )
                )
                continue
            keep.append(job)
        return keep

    async def _claim_chunk(self, run: RunInfo, now: datetime) -> list[Job]:
        """Mass: the unit of work is one call, i.e. one tag or one list of ≤ 10,000 openids."""
        cond = Q(run_id=run.id, state=DeliveryState.pending) & self._claimable(now)
        chunk = (
            await Delivery.filter(cond).order_by("chunk").first().values_list("chunk", flat=True)
        )
        if chunk is None:
            return []
        items = await self._claim_rows(Q(run_id=run.id, chunk=chunk), runs_mod.MASS_CHUNK, now)
        return [Job(run, items)] if items else []

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

    async def _send_loop(self) -> None:
        while True:
            job = await self.queue.get()
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
        if run.kind != "test" and quiet_until(
            utcnow(), self.cfg.quiet_hours, self.settings.server.tz
        ):
            await Delivery.filter(
                id__in=[i.id for i in job.items], state=DeliveryState.pending
            ).update(claimed_by=None, claimed_until=None)
            return
        if run.channel == Channel.mass and run.kind != "test":
            await self._send_mass(job)
            return
        item = job.items[0]
        await self.bucket.acquire()
        self.stats.calls += 1
        try:
            msgid = await self._call_one(run, item)
        except WeChatError as exc:
            await self._refused(job, exc)
        else:
            self._record(Outcome([item.id], DeliveryState.sent, msgid=msgid))

    async def _call_one(self, run: RunInfo, item: Item) -> str | None:
        msg = run.message
        if run.channel == Channel.template:
            data = msg.template_data(utcnow().astimezone(self.settings.server.tz))
            if self.settings.wechat.use_subscribe_message:
                await self.api.send_subscribe_message(
                    item.openid, run.template_id, data, page=msg.url
                )
                return None
            # WeChat's msgid is not kept (one bulk write per batch); client_msg_id names the row.
            await self.api.send_template(
                item.openid,
                run.template_id,
                data,
                url=msg.url,
                client_msg_id=f"policybot-d{item.id}",
            )
            return None
        if run.channel == Channel.customer:
            await self.api.send_custom_text(item.openid, msg.plain())
            return None
        # A test send of a mass campaign: WeChat's preview, which does not use the monthly quota.
        answer = await self.api.call(
            "cgi-bin/message/mass/preview", json={"touser": item.openid, **msg.mass_payload()}
        )
        return str(answer.get("msg_id") or "") or None

    async def _send_mass(self, job: Job) -> None:
        run = job.run
        now = utcnow()
        items = await self._over_quota(job.items, now)
        if not items:
            return
        ids = [i.id for i in items]
        payload = run.message.mass_payload()
        chunk = items[0].chunk or 0
        try:
            if run.mass_tag_id is not None:
                if run.topic_id:
                    from bot.catalog.models import Topic
                    from bot.push.tags import reconcile_topic

                    topic = await Topic.get_or_none(id=run.topic_id)
                    if topic is not None:
                        await reconcile_topic(self.api, topic)
                clientmsgid = f"policybot-c{run.campaign_id}-r{run.id}-t{run.mass_tag_id}"
                await self.bucket.acquire()
                self.stats.calls += 1
                msg_id = await self.api.mass_send_by_tag(run.mass_tag_id, payload, clientmsgid)
            else:
                if len(items) < 2:
                    self._record(
                        Outcome(
                            ids,
                            DeliveryState.skipped,
                            message="mass send needs at least two recipients",
                        )
                    )
                    return
                clientmsgid = f"policybot-c{run.campaign_id}-r{run.id}-k{chunk}"
                await self.bucket.acquire()
                self.stats.calls += 1
                msg_id = await self.api.mass_send_to_openids(
                    [i.openid for i in items], payload, clientmsgid
                )
        except WeChatError as exc:
            await self._refused(Job(run, items), exc)
            return
        self._record(Outcome(ids, DeliveryState.sent, msgid=str(msg_id)))

    async def _over_quota(self, items: list[Item], now: datetime) -> list[Item]:
        """Residents who had their mass sends for the month are skipped (WeChat would drop them)."""
        quota = self.cfg.mass_monthly_quota
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
        over = [i for i in items if counts[i.openid] >= quota]
        if over:
            self._record(
                Outcome(
                    [i.id for i in over],
                    DeliveryState.skipped,
                    message=f"本月群发已达 {quota} 次上限",
                )
            )
        return [i for i in items if counts[i.openid] < quota]

    async def _refused(self, job: Job, exc: WeChatError) -> None:
        ids = [i.id for i in job.items]
        code = exc.code
        if code in RUN_FATAL or (exc.permanent and code < 0):
            await runs_mod.fail_run(job.run.id, code, exc.message)
            self._runs_at = 0.0
            return
        if code in RATE_LIMITED:
            self.bucket.slow_down()
            self._retry(job.items, exc, delay=30 + random.random() * 30, count=False)
        elif code == RETRY_TOO_FAST:
            self._retry(job.items, exc, delay=61, count=False)
        elif exc.transient or exc.token_invalid:
            self._retry(job.items, exc, count=True)
        else:
            self._record(Outcome(ids, DeliveryState.failed, code, exc.message[:255]))
            reason = RESIDENT_REFUSALS.get(code)
            if reason and len(job.items) == 1:
                await self._mark_resident(job.items[0].openid, code, reason)

    def _retry(
        self,
        items: list[Item],
        exc: WeChatError | None,
        msg: str | None = None,
        *,
        delay: float | None = None,
        count: bool = True,
    ) -> None:
        code = exc.code if exc else None
        message = (exc.message if exc else msg or "")[:255]
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

    async def _mark_resident(self, openid: str, code: int, reason: str) -> None:
        update: dict[str, Any] = {"blocked_reason": f"{code} {reason}"}
        if code == 43004:
            update.update(following=False, unfollowed_at=utcnow())
        await Subscriber.filter(openid=openid).update(**update)

    # --- recording --------------------------------------------------------------------

    def _record(self, outcome: Outcome) -> None:
        self.results.append(outcome)
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
        sent_plain = [
            i for o in batch if o.state == DeliveryState.sent and not o.msgid for i in o.ids
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
                        **released,
                    )
                )
            for o in batch:
                if o.state == DeliveryState.sent and o.msgid:
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
                            **released,
                        )
                    )
                elif o.state in (DeliveryState.failed, DeliveryState.skipped):
                    await (
                        Delivery.filter(id__in=o.ids, state=DeliveryState.pending)
                        .using_db(conn)
                        .update(
                            state=o.state,
                            error_code=o.code,
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
                            error_code=o.code,
                            error_message=o.message,
                            **released,
                        )
                    )
