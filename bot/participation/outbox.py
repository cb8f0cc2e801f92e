"""Delivering what participation owes residents: replies, extension and 补正 notices,
"the feedback report is out".

Rows are written in the transaction that decided to send them; a worker claims a
row (a conditional update, so two workers never take the same row) for a lease,
sends it, and records the result. A worker that dies after claiming leaves the
lease to expire and the next worker delivers the row: nothing recorded is lost,
and nothing already recorded as sent goes out again.

WeChat first tries a customer-service message (allowed within 48 h of the
resident's last message); outside that window, when ``wechat.template_id`` is
set, a template message with a link. Email has no channel in this build: such
rows stay ``no_channel`` (pending delivery) for the email channel to pick up.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from bot.participation.models import Outbox, OutboxState
from bot.wechat.errors import DEMO_MODE, WeChatError

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger("bot.participation")

LEASE = dt.timedelta(minutes=2)
RETRY_AFTER = dt.timedelta(minutes=5)
MAX_ATTEMPTS = 8
WINDOW_CLOSED = frozenset({45015, 45047})


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def claim(limit: int = 50) -> list[Outbox]:
    """Rows nobody holds: pending ones, and ones whose worker's lease ran out."""
    now = _now()
    candidates = (
        await Outbox.filter(state__in=[OutboxState.pending, OutboxState.sending])
        .order_by("id")
        .limit(limit * 2)
    )
    claimed = []
    for row in candidates:
        if row.claimed_until is not None and row.claimed_until > now:
            continue
        taken = await Outbox.filter(
            id=row.id, state=row.state, claimed_until=row.claimed_until, attempts=row.attempts
        ).update(state=OutboxState.sending, claimed_until=now + LEASE, attempts=row.attempts + 1)
        if taken:
            await row.refresh_from_db()
            claimed.append(row)
        if len(claimed) >= limit:
            break
    return claimed


async def _send_wechat(services: Services, row: Outbox) -> None:
    assert row.openid
    try:
        await services.api.send_custom_text(row.openid, row.text)
    except WeChatError as exc:
        template = services.settings.wechat.template_id
        if exc.code not in WINDOW_CLOSED or not template:
            raise
        data = {"thing1": {"value": row.text[:20]}, "time2": {"value": _now().strftime("%Y-%m-%d")}}
        url = row.url or f"{services.settings.server.base_url}/disclosure/apply"
        await services.api.send_template(row.openid, template, data, url=url,
                                         client_msg_id=f"policybot-o{row.id}")  # fmt: skip


async def deliver(services: Services, row: Outbox) -> OutboxState:
    """Send one claimed row and record what became of it."""
    if row.channel != "wechat":
        state, code = OutboxState.no_channel, None
    else:
        try:
            await _send_wechat(services, row)
            state, code = OutboxState.sent, None
        except WeChatError as exc:
            code = exc.code
            if exc.code == DEMO_MODE:
                state = OutboxState.no_channel
            elif exc.transient and row.attempts < MAX_ATTEMPTS:
                state = OutboxState.pending
            else:
                state = OutboxState.failed
            log.warning("participation message not delivered",
                        extra={"outbox": row.id, "kind": row.kind, "errcode": exc.code})  # fmt: skip
    update: dict[str, object] = {"state": state, "errcode": code}
    if state == OutboxState.sent:
        update["sent_at"] = _now()
    update["claimed_until"] = _now() + RETRY_AFTER if state == OutboxState.pending else None
    await Outbox.filter(id=row.id, state=OutboxState.sending).update(**update)
    return state


async def deliver_pending(services: Services) -> int:
    """One pass: claim and deliver until nothing is left; returns how many were sent."""
    sent = 0
    while rows := await claim():
        for row in rows:
            sent += await deliver(services, row) == OutboxState.sent
        if len(rows) < 50:
            break
    return sent


class OutboxWorker:
    """Polls the outbox every ``participation.outbox_poll_seconds``; ``wake()`` looks now."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        poll = self.services.settings.participation.outbox_poll_seconds
        while True:
            try:
                await deliver_pending(self.services)
            except Exception:
                log.exception("outbox pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), poll)
            self._wake.clear()


@asynccontextmanager
async def outbox_worker(services: Services) -> AsyncIterator[OutboxWorker]:
    worker = OutboxWorker(services)
    worker._task = asyncio.create_task(worker._run(), name="participation-outbox")
    services.outbox = worker
    try:
        yield worker
    finally:
        services.outbox = None
        worker._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker._task


def wake(services: Services) -> None:
    """Tell this process's worker (role all) there is something to send; others poll."""
    if services.outbox is not None:
        services.outbox.wake()
