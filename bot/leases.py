"""Expiring named locks in the database (``Lease``), shared by every process.

The token refresh and the push workers use them when Redis is not
configured: whoever takes an expired or missing lease holds it until it
expires or is released.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tortoise.exceptions import IntegrityError

from bot.models import Lease


async def try_lease(name: str, holder: str, ttl: float, now: datetime | None = None) -> bool:
    """Take (or renew, for the same holder) the lease ``name`` for ``ttl`` seconds."""
    now = now or datetime.now(UTC)
    until = now + timedelta(seconds=ttl)
    if await Lease.filter(name=name, expires_at__lt=now).update(holder=holder, expires_at=until):
        return True
    if await Lease.filter(name=name, holder=holder).update(expires_at=until):
        return True
    try:
        await Lease.create(name=name, holder=holder, expires_at=until)
    except IntegrityError:
        return False
    return True


async def release_lease(name: str, holder: str) -> None:
    await Lease.filter(name=name, holder=holder).delete()
