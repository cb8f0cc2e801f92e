"""Reading what to index from the database (the source of truth).

The published rows of every searchable content kind (``bot.catalog.kinds``:
policies, interpretations, catalog items…) become ``IndexDoc``s, built from
each kind's ``search_fields``.
``read_marker`` is the cheap question asked every poll — per table the newest
``updated_at`` — so other processes' publishing is noticed without reading
any document; published counts are checked every ``SLOW_SECONDS``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tortoise import connections

from bot.catalog.kinds import Kind, all_kinds, kind
from bot.search.index import DocInfo, IndexDoc

Row = dict[str, Any]
Marker = tuple[Any, ...]
RELATED_BY_IDS = 500  # up to this many rows, relations are read by id; beyond, by id range


def searchable() -> list[Kind]:
    """The kinds that are indexed for search (they declare ``search_info``)."""
    return [k for k in all_kinds() if k.search_info is not None]


def kind_names() -> list[str]:
    return [k.name for k in searchable()]


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _text(value: Any) -> str:
    return str(getattr(value, "value", value))


def _columns(k: Kind) -> list[str]:
    wanted = ["id", k.published_field[0], "updated_at", *k.search_columns]
    wanted += [f.column for f in k.search_fields if f.column not in k.search_related]
    return list(dict.fromkeys(wanted))


def index_doc(k: Kind, row: Row, today: dt.date) -> IndexDoc:
    """A row as the index sees it: what a hit shows, and each ``search_fields`` column
    put into its index field (text joined; a list, or anything in keywords, as phrases)."""
    assert k.search_info is not None
    info = DocInfo(
        kind=k.name,
        id=str(row["id"]),
        version=_iso(row.get("updated_at")) or "",
        **k.search_info(row, today),
    )
    fields: dict[str, Any] = {}
    for spec in k.search_fields:
        value = row.get(spec.column)
        texts = [_text(v) for v in (value if isinstance(value, list) else [value]) if v]
        if spec.into == "keywords":
            fields.setdefault("keywords", []).extend(texts)
        else:
            fields[spec.into] = " ".join(t for t in [fields.get(spec.into, ""), *texts] if t)
    return IndexDoc(info, fields)


def _ids(k: Kind, ids: list[str]) -> list[Any]:
    return [int(i) for i in ids] if k.int_ids else list(ids)


async def _related(k: Kind, ids: list[Any]) -> dict[str, dict[Any, list[str]]]:
    """For each ``search_related`` name: row id → the related values."""
    out: dict[str, dict[Any, list[str]]] = {}
    if not ids:
        return out
    query = k.model.filter(**k.published)
    if len(ids) <= RELATED_BY_IDS:
        query = query.filter(id__in=ids)
    else:
        query = query.filter(id__gte=min(ids), id__lte=max(ids))
    for name, path in k.search_related.items():
        found: dict[Any, list[str]] = out.setdefault(name, {})
        for row_id, value in await query.values_list("id", path):
            if value:
                found.setdefault(row_id, []).append(value)
    return out


async def rows(k: Kind, ids: list[str] | None = None, after: str = "", limit: int = 0) -> list[Row]:
    """Rows (any state) with these ids — a withdrawal must be seen — or published ones
    in id order (``after``/``limit`` page through them), with their related values."""
    model = k.model
    query = model.filter(id__in=_ids(k, ids)) if ids is not None else model.filter(**k.published)
    if after:
        query = query.filter(id__gt=_ids(k, [after])[0])
    query = query.order_by("id")
    if limit:
        query = query.limit(limit)
    found = list(await query.values(*_columns(k)))
    if k.search_related:
        column = k.published_field[0]
        related = await _related(k, [r["id"] for r in found if k.is_published(r[column])])
        for row in found:
            for name in k.search_related:
                row[name] = related.get(name, {}).get(row["id"], [])
    return found


def docs(k: Kind, found: list[Row], today: dt.date) -> list[IndexDoc]:
    """Documents to index for the published ones of these rows."""
    column = k.published_field[0]
    return [index_doc(k, r, today) for r in found if k.is_published(r[column])]


async def versions_since(name: str, since: dt.datetime) -> list[tuple[str, str, bool]]:
    """(id, version, published) of the rows changed since a time — no text read."""
    k = kind(name)
    found = await k.model.filter(updated_at__gte=since).values_list(
        "id", "updated_at", k.published_field[0]
    )
    return [(str(i), _iso(v) or "", k.is_published(p)) for i, v, p in found]


async def published_versions(name: str) -> dict[str, str]:
    """id → version of every published row of a kind (the reconcile path)."""
    k = kind(name)
    found = await k.model.filter(**k.published).values_list("id", "updated_at")
    return {str(i): _iso(v) or "" for i, v in found}


# Asked every poll: the newest change per table, answered from an index
# (a backward scan of updated_at / id), so a poll stays cheap at 100,000 rows
# on both databases. Every publish, edit and withdrawal sets updated_at.
def _fast_sql() -> str:
    parts = [f'(SELECT MAX(updated_at) FROM "{k.table}") AS "{k.name}"' for k in searchable()]
    parts.append(f'(SELECT MAX(updated_at) FROM content_entry) AS "{ENTRIES}"')
    return "SELECT " + ", ".join(parts)


# Asked every SLOW_SECONDS: published counts (a safety net for rows changed
# without a newer updated_at, e.g. deleted by hand).
def _slow_sql() -> str:
    parts = [
        f'(SELECT COUNT(*) FROM "{k.table}" WHERE {k.published_sql()}) AS "{k.name}"'
        for k in searchable()
    ]
    return "SELECT " + ", ".join(parts)


SLOW_SECONDS = 10.0
ENTRIES = "content_entry"  # menu, regions, synonyms… (bot.catalog.stored): synonyms are indexed


async def read_marker(previous: dict[str, Marker] | None = None) -> dict[str, Marker]:
    """Per kind: (newest change, published count); for ``ENTRIES`` the newest change.
    With ``previous`` only the newest changes are read, counts are carried over."""
    conn = connections.get("default")
    fast = (await conn.execute_query_dict(_fast_sql()))[0]
    kinds = kind_names()
    entries = {ENTRIES: (str(fast[ENTRIES] or ""),)}
    if previous is not None:
        carried = {k: (str(fast[k] or ""), *previous.get(k, ("", None))[1:]) for k in kinds}
        return carried | entries
    slow = (await conn.execute_query_dict(_slow_sql()))[0]
    return {k: (str(fast[k] or ""), int(slow[k] or 0)) for k in kinds} | entries


def parse_time(value: str) -> dt.datetime | None:
    """The ``m`` of a marker as an aware datetime (SQLite returns text); None if not a time."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


async def bodies(policy_id: str, interpretation_ids: list[str]) -> list[tuple[str, str, str, str]]:
    """(kind, id, title, rendered body) of a published policy and the given interpretations:
    the passage a chat reply quotes is looked for in these."""
    out: list[tuple[str, str, str, str]] = []
    for name, ids in (("policy", [policy_id]), ("interpretation", interpretation_ids)):
        if not ids:
            continue
        k = kind(name)
        rows = await k.model.filter(id__in=ids, **k.published).values("id", "title", "body_html")
        out += [(name, str(r["id"]), r["title"], r["body_html"]) for r in rows]
    return out
