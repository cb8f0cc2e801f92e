"""The audit trail: who did what to which object, from where, written one way everywhere.

Entries are chained by hash: each stores the hash of the entry before it and
its own hash over that and its content, so a changed or deleted row breaks
the chain and ``verify`` names where. Writers take turns: a PostgreSQL
advisory lock held to the end of the writing transaction (across processes),
the connection lock on SQLite (within a process), and the unique
``prev_hash`` so that two entries can never claim the same predecessor.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError, OperationalError
from tortoise.transactions import in_transaction

from bot.models import AuditEntry

GENESIS = ""  #: the ``prev_hash`` of the first entry
_LOCK_KEY = 7_263_001  # pg_advisory_xact_lock key of the audit chain
_TRIES = 5
_BATCH = 1000


@dataclass(frozen=True)
class Actor:
    """Who acts: a staff member in the console or a machine holding an API token."""

    name: str
    role: str
    address: str = field(default="", compare=False)  #: the client address, when known


async def record(
    who: Actor,
    action: str,
    object_type: str,
    object_id: str | int,
    *,
    conn: BaseDBAsyncClient | None = None,
    **detail: Any,
) -> AuditEntry:
    """Append one entry; pass ``conn`` to write it in the caller's transaction."""
    entry = AuditEntry(
        actor=who.name[:64], role=who.role[:16], address=who.address[:64], action=action,
        object_type=object_type, object_id=str(object_id), detail=detail,
    )  # fmt: skip
    await record_many([entry], conn=conn)
    return entry


async def record_many(
    entries: Sequence[AuditEntry], *, conn: BaseDBAsyncClient | None = None
) -> None:
    """Append unsaved entries in order, chained, in ``conn``'s transaction or a new one."""
    if not entries:
        return
    if conn is not None:
        await _append(entries, conn)
        return
    for attempt in range(_TRIES):
        try:
            async with in_transaction() as tx:
                await _append(entries, tx)
            return
        except (IntegrityError, OperationalError):
            # Another process appended between our read and our write (SQLite has no
            # cross-process lock here): read the new head and try again.
            if attempt == _TRIES - 1:
                raise


async def _append(entries: Sequence[AuditEntry], conn: BaseDBAsyncClient) -> None:
    if conn.capabilities.dialect == "postgres":
        await conn.execute_query("SELECT pg_advisory_xact_lock($1)", [_LOCK_KEY])
    head = (
        await AuditEntry.all()
        .using_db(conn)
        .order_by("-id")
        .limit(1)
        .values_list("hash", flat=True)
    )
    prev = str(head[0]) if head else GENESIS
    now = datetime.now(UTC)
    for entry in entries:
        entry.at = now
        entry.address = entry.address or ""
        entry.detail = orjson.loads(orjson.dumps(entry.detail or {}))  # stored as read back
        entry.prev_hash = prev
        entry.hash = prev = digest(entry)
    if len(entries) == 1:
        await entries[0].save(using_db=conn)  # sets the id the caller may read
        return
    for start in range(0, len(entries), _BATCH):
        await AuditEntry.bulk_create(entries[start : start + _BATCH], using_db=conn)


def digest(entry: AuditEntry) -> str:
    """The hash of one entry: its predecessor's hash and everything it says."""
    content = [
        entry.prev_hash, entry.at.astimezone(UTC).isoformat(timespec="microseconds"),
        entry.actor, entry.role, entry.address, entry.action, entry.object_type,
        entry.object_id, entry.detail,
    ]  # fmt: skip
    return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass
class Verification:
    """The outcome of walking the chain: ``problems`` name each break in Chinese."""

    checked: int = 0
    problems: list[str] = field(default_factory=list)
    head: str = GENESIS  #: the newest entry's hash: note it to notice removed newest entries

    @property
    def ok(self) -> bool:
        return not self.problems


async def entries() -> AsyncIterator[AuditEntry]:
    """Every entry, oldest first, read in batches (for verifying and exporting)."""
    last = 0
    while True:
        rows = await AuditEntry.filter(id__gt=last).order_by("id").limit(_BATCH)
        if not rows:
            return
        for row in rows:
            yield row
        last = rows[-1].id


async def verify() -> Verification:
    """Recompute the chain from the first entry; a changed row or a removed one is reported.

    A removed *newest* entry leaves no trace in the chain itself; ``head``
    (the newest hash) can be noted elsewhere to catch that.
    """
    result = Verification()
    prev, prev_id = GENESIS, 0
    async for row in entries():
        result.checked += 1
        if row.prev_hash != prev:
            result.problems.append(
                f"第 {prev_id} 条与第 {row.id} 条之间的记录被删除或改动" if prev_id
                else f"第 {row.id} 条之前的记录被删除"
            )  # fmt: skip
        if digest(row) != row.hash:
            result.problems.append(f"第 {row.id} 条记录的内容被改动")
        prev, prev_id = row.hash, row.id
    result.head = prev
    return result
