"""The audit trail: who did what to which object, written one way everywhere."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from bot.models import AuditEntry


@dataclass(frozen=True)
class Actor:
    """Who acts: a staff member in the console or a machine holding an API token."""

    name: str
    role: str


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
    return await AuditEntry.create(
        actor=who.name[:64],
        role=who.role,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        detail=detail,
        using_db=conn,
    )
