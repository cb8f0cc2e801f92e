"""Content that is one value, not rows (menu, regions, synonyms, holidays), as sync stored it.

The loader reads and validates ``menu.yaml``, ``regions.yaml``,
``synonyms.txt`` and ``holidays.yaml`` once; ``content sync`` writes each here
(``ContentEntry``), and every consumer in every process reads it back from the
database: menu clicks, ``地区 X``, the search index's synonyms, the deadline
calendar. Editing a file therefore takes effect through ``content sync``, like
policies do. Each entry declares in ``ENTRIES`` its file and how its value is
taken from the loaded ``Content``; the readers below turn it back into types.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from bot.catalog.loader import HOLIDAYS_FILE, Content, Holidays, RegionDoc
from bot.catalog.models import ContentEntry


@dataclass(frozen=True)
class Entry:
    path: str  # the content file, relative to the folder
    value: Callable[[Content], Any]  # JSON-able value to store; the file's absence stores this too


def _holidays(content: Content) -> dict[str, list[str]]:
    days = content.holidays
    return {
        "holidays": sorted(d.isoformat() for d in days.holidays),
        "workdays": sorted(d.isoformat() for d in days.workdays),
    }


ENTRIES: dict[str, Entry] = {
    "menu": Entry("menu.yaml", lambda c: c.menu),
    "regions": Entry(
        "regions.yaml",
        lambda c: [
            {"name": r.name, "aliases": r.aliases, "center": r.center, "radius_km": r.radius_km}
            for r in c.regions
        ],
    ),
    "synonyms": Entry("synonyms.txt", lambda c: c.synonyms),
    "holidays": Entry(HOLIDAYS_FILE, _holidays),
}


async def save(name: str, data: Any, conn: BaseDBAsyncClient | None = None) -> str | None:
    """Store one entry; returns "created", "updated" or None when it was unchanged
    (then ``updated_at`` stays, so no process rebuilds anything)."""
    row = await ContentEntry.get_or_none(name=name, using_db=conn)
    if row is None:
        await ContentEntry.create(name=name, data=data, using_db=conn)
        return "created"
    if row.data == data:
        return None
    row.data = data
    await row.save(using_db=conn, update_fields=["data", "updated_at"])
    return "updated"


async def save_all(content: Content, conn: BaseDBAsyncClient) -> dict[str, str]:
    """Every entry of a loaded folder; a file present but broken keeps its previous value."""
    changed = {}
    for name, entry in ENTRIES.items():
        if entry.path in content.failed_paths:
            continue
        if (what := await save(name, entry.value(content), conn)) is not None:
            changed[name] = what
    return changed


async def _data(name: str) -> Any:
    row = await ContentEntry.get_or_none(name=name)
    return None if row is None else row.data


async def menu() -> dict[str, Any] | None:
    """The validated ``menu.yaml`` (WeChat's menu API shape plus each click's ``reply``)."""
    data = await _data("menu")
    return data if isinstance(data, dict) else None


async def click_replies() -> dict[str, Any]:
    """Each click key's reply: text, ``{search: …}`` or ``{command: …}``."""
    replies: dict[str, Any] = {}
    for button in (await menu() or {}).get("button", []):
        for item in [button, *button.get("sub_button", [])]:
            if item.get("type") == "click" and item.get("key"):
                replies[str(item["key"])] = item.get("reply", "")
    return replies


async def regions() -> list[RegionDoc]:
    return [
        RegionDoc(
            r["name"],
            list(r["aliases"]),
            tuple(r["center"]) if r.get("center") else None,  # type: ignore[arg-type]
            float(r.get("radius_km") or 5.0),
        )
        for r in await _data("regions") or []
    ]


async def synonym_groups() -> list[list[str]]:
    return [list(group) for group in await _data("synonyms") or []]


async def holidays() -> Holidays:
    data = await _data("holidays") or {}
    return Holidays(
        frozenset(dt.date.fromisoformat(d) for d in data.get("holidays", [])),
        frozenset(dt.date.fromisoformat(d) for d in data.get("workdays", [])),
    )
