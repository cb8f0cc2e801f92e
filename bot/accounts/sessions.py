"""Server-side console sessions, shared by every web process through the database.

The cookie carries only a random id; the row is keyed by its SHA-256, so a
database read never yields a usable cookie and the lookup compares hashes,
not secrets. A session ends on logout, after ``admin.session_idle_minutes``
without a request, on a password change and when the account is disabled.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from bot.accounts.models import Account, StaffSession

TOUCH_EVERY = timedelta(seconds=60)  # at most one write a minute per session for the idle clock


def _key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


async def open_session(account: Account, address: str, idle: timedelta) -> tuple[str, StaffSession]:
    """A new session for ``account``; returns the cookie value (never stored) and the row."""
    now = datetime.now(UTC)
    await StaffSession.filter(last_seen_at__lt=now - idle).delete()  # idle ones, everyone's
    raw = secrets.token_urlsafe(32)
    row = await StaffSession.create(
        id=_key(raw), account=account, csrf=secrets.token_urlsafe(32), address=address[:64],
        last_seen_at=now,
    )  # fmt: skip
    return raw, row


async def load(raw: str, idle: timedelta) -> tuple[StaffSession, Account] | None:
    """The live session behind a cookie value, with its account; None when ended or idle."""
    if not raw or len(raw) > 128:
        return None
    row = await StaffSession.get_or_none(id=_key(raw)).prefetch_related("account")
    if row is None:
        return None
    now = datetime.now(UTC)
    account: Account = row.account
    if account.disabled or now - row.last_seen_at > idle:
        await row.delete()
        return None
    if now - row.last_seen_at > TOUCH_EVERY:
        await StaffSession.filter(id=row.id).update(last_seen_at=now)
    return row, account


async def end(raw: str) -> None:
    if raw:
        await StaffSession.filter(id=_key(raw)).delete()


async def end_all(account_id: int) -> int:
    return await StaffSession.filter(account_id=account_id).delete()
