"""Who holds what: worker identities, expiring leases, and clean-up after a crash.

A worker is ``host:pid:nonce``. Claims on delivery rows and ``Lease`` rows
carry it, so a restarted process can hand back at once what a dead process
on the same host held instead of waiting for the leases to run out. Holders
on other hosts are trusted until their lease expires.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket

from bot.models import Lease
from bot.push.clock import utcnow
from bot.push.models import Delivery, DeliveryState

log = logging.getLogger("bot.push")

HOST = socket.gethostname()[:30]


def new_worker_id() -> str:
    return f"{HOST}:{os.getpid()}:{secrets.token_hex(3)}"


def holder_dead(holder: str) -> bool:
    """True only for a process of this host that no longer runs."""
    parts = holder.split(":")
    if len(parts) < 3 or parts[0] != HOST or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


async def release_dead_claims() -> int:
    """Hand back delivery claims and push leases of dead processes on this host."""
    now = utcnow()
    holders = (
        await Delivery.filter(
            state=DeliveryState.pending, claimed_until__gt=now, claimed_by__startswith=f"{HOST}:"
        )
        .distinct()
        .values_list("claimed_by", flat=True)
    )
    dead = {_worker_of(str(h)) for h in holders if holder_dead(str(h))}
    released = 0
    for worker in dead:
        released += await Delivery.filter(
            state=DeliveryState.pending, claimed_by__startswith=f"{worker}:"
        ).update(claimed_by=None, claimed_until=None)
    for lease in await Lease.filter(name__startswith="push:", holder__startswith=f"{HOST}:"):
        if holder_dead(lease.holder):
            await Lease.filter(name=lease.name, holder=lease.holder).delete()
    if released:
        log.warning(
            "released claims of dead workers", extra={"rows": released, "workers": sorted(dead)}
        )
    return released


def _worker_of(claim: str) -> str:
    """``host:pid:nonce:seq`` → ``host:pid:nonce``."""
    return ":".join(claim.split(":")[:3])
