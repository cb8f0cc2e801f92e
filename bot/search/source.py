"""Reading what to index from the database (the source of truth).

Published policies, interpretations and catalog items become ``IndexDoc``s.
``read_marker`` is the cheap question asked every poll — per table the newest
``updated_at`` — so other processes' publishing is noticed without reading
any document; published counts are checked every ``SLOW_SECONDS``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

from tortoise import connections

from bot.catalog.models import CatalogItem, Interpretation, Policy, Status, Validity
from bot.catalog.validity import effective_validity
from bot.search.index import DocInfo, IndexDoc

LAPSED_PRIOR = 0.6  # a lapsed or repealed policy ranks below a valid one on the same words
INTERPRETATION_PRIOR = 0.95  # an interpretation lifts its policy; the policy leads the group
CATALOG_PRIOR = 0.85  # catalog rows are short and many; documents come first on a tie

_POLICY_FIELDS = (
    "id",
    "title",
    "issuer",
    "written_on",
    "published_on",
    "doc_number",
    "keywords",
    "summary",
    "body_md",
    "validity",
    "expires_on",
    "replaced_by",
    "status",
    "updated_at",
)
_INTERP_FIELDS = (
    "id",
    "title",
    "policy_id",
    "form",
    "issuer",
    "published_on",
    "body_md",
    "status",
    "updated_at",
)
_CATALOG_FIELDS = (
    "id",
    "area",
    "level1",
    "level2",
    "content",
    "basis",
    "time_limit",
    "subject",
    "channel",
    "published",
    "updated_at",
)

Row = dict[str, Any]
Marker = tuple[Any, ...]


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _enum(value: Any) -> str | None:
    return None if value is None else str(getattr(value, "value", value))


def policy_doc(row: Row, areas: Iterable[str], today: dt.date) -> IndexDoc:
    # The validity residents see (an expired expires_on reads 失效), as on the pages.
    stated = SimpleNamespace(
        validity=Validity(_enum(row.get("validity")) or Validity.valid.value),
        expires_on=row.get("expires_on"),
    )
    validity = effective_validity(stated, today).value
    lapsed = validity != Validity.valid.value
    info = DocInfo(
        kind="policy",
        id=row["id"],
        title=row["title"],
        doc_number=row.get("doc_number"),
        date=_iso(row.get("published_on") or row.get("written_on")),
        validity=validity,
        replaced_by=row.get("replaced_by"),
        prior=LAPSED_PRIOR if lapsed else 1.0,
        version=_iso(row.get("updated_at")) or "",
    )
    keywords = row.get("keywords") or []
    if isinstance(keywords, str):
        keywords = [keywords]
    meta = " ".join(x for x in [row.get("issuer") or "", row.get("doc_number") or "", *areas] if x)
    return IndexDoc(
        info,
        {
            "title": row["title"],
            "keywords": [str(k) for k in keywords],
            "summary": row.get("summary") or "",
            "body": row.get("body_md") or "",
            "meta": meta,
        },
    )


def interpretation_doc(row: Row) -> IndexDoc:
    form = _enum(row.get("form")) or "文字解读"
    info = DocInfo(
        kind="interpretation",
        id=row["id"],
        title=row["title"],
        date=_iso(row.get("published_on")),
        policy_id=row.get("policy_id"),
        form=form,
        prior=INTERPRETATION_PRIOR,
        version=_iso(row.get("updated_at")) or "",
    )
    meta = " ".join(x for x in (form, row.get("issuer") or "") if x)
    return IndexDoc(info, {"title": row["title"], "body": row.get("body_md") or "", "meta": meta})


def catalog_title(row: Row) -> str:
    level1, level2 = row.get("level1") or "", row.get("level2") or ""
    return f"{level1}·{level2}" if level2 and level2 != level1 else level1


def catalog_doc(row: Row) -> IndexDoc:
    info = DocInfo(
        kind="catalog_item",
        id=str(row["id"]),
        title=catalog_title(row),
        area=row.get("area") or "",
        prior=CATALOG_PRIOR,
        version=_iso(row.get("updated_at")) or "",
    )
    body = " ".join(row.get(k) or "" for k in ("basis", "subject", "channel", "time_limit"))
    return IndexDoc(
        info,
        {
            "title": f"{row.get('level1') or ''} {row.get('level2') or ''}",
            "keywords": [row.get("area") or ""],
            "summary": row.get("content") or "",
            "body": body,
        },
    )


async def policy_areas(ids: list[str] | None) -> dict[str, list[str]]:
    query = Policy.filter(status=Status.published)
    if ids is not None:
        query = query.filter(id__in=ids)
    out: dict[str, list[str]] = {}
    for pid, name in await query.values_list("id", "areas__name"):
        if name:
            out.setdefault(pid, []).append(name)
    return out


async def _rows(
    model: type[Policy] | type[Interpretation],
    fields: tuple[str, ...],
    ids: list[str] | None,
    after: str,
    limit: int,
) -> list[Row]:
    """Rows (any status) with these ids — a withdrawal must be seen — or
    published ones in id order (``after``/``limit`` page through them)."""
    query = model.filter(id__in=ids) if ids is not None else model.filter(status=Status.published)
    if after:
        query = query.filter(id__gt=after)
    query = query.order_by("id")
    if limit:
        query = query.limit(limit)
    return list(await query.values(*fields))


async def policy_rows(ids: list[str] | None = None, after: str = "", limit: int = 0) -> list[Row]:
    return await _rows(Policy, _POLICY_FIELDS, ids, after, limit)


async def policy_docs(rows: list[Row], today: dt.date) -> list[IndexDoc]:
    """Documents to index for the published ones of these rows."""
    published = [r for r in rows if _enum(r["status"]) == Status.published.value]
    areas = (
        await policy_areas([r["id"] for r in published])
        if len(published) < 500
        else (await policy_areas(None))
    )
    return [policy_doc(r, areas.get(r["id"], []), today) for r in published]


async def interpretation_rows(
    ids: list[str] | None = None, after: str = "", limit: int = 0
) -> list[Row]:
    return await _rows(Interpretation, _INTERP_FIELDS, ids, after, limit)


def interpretation_docs(rows: list[Row]) -> list[IndexDoc]:
    return [interpretation_doc(r) for r in rows if _enum(r["status"]) == Status.published.value]


async def catalog_rows(ids: list[int] | None = None) -> list[Row]:
    """Catalog rows with these ids (any state), or all (published or not, to see withdrawals)."""
    query = CatalogItem.all()
    if ids is not None:
        query = query.filter(id__in=ids)
    return list(await query.order_by("id").values(*_CATALOG_FIELDS))


def catalog_docs(rows: list[Row]) -> list[IndexDoc]:
    return [catalog_doc(r) for r in rows if r["published"]]


async def versions_since(kind: str, since: dt.datetime) -> list[tuple[str, str, bool]]:
    """(id, version, published) of the rows changed since a time — no text read."""
    if kind == "policy":
        rows = await Policy.filter(updated_at__gte=since).values_list("id", "updated_at", "status")
        return [(i, _iso(v) or "", _enum(s) == Status.published.value) for i, v, s in rows]
    if kind == "interpretation":
        rows = await Interpretation.filter(updated_at__gte=since).values_list(
            "id", "updated_at", "status"
        )
        return [(i, _iso(v) or "", _enum(s) == Status.published.value) for i, v, s in rows]
    rows = await CatalogItem.filter(updated_at__gte=since).values_list(
        "id", "updated_at", "published"
    )
    return [(str(i), _iso(v) or "", bool(p)) for i, v, p in rows]


async def published_versions(kind: str) -> dict[str, str]:
    """id → version of every published row of a kind (the reconcile path)."""
    if kind == "policy":
        rows = await Policy.filter(status=Status.published).values_list("id", "updated_at")
    elif kind == "interpretation":
        rows = await Interpretation.filter(status=Status.published).values_list("id", "updated_at")
    else:
        rows = await CatalogItem.filter(published=True).values_list("id", "updated_at")
    return {str(i): _iso(v) or "" for i, v in rows}


# Asked every poll: the newest change per table, answered from an index
# (a backward scan of updated_at / id), so a poll stays cheap at 100,000 rows
# on both databases. Every publish, edit and withdrawal sets updated_at.
_FAST_SQL = (
    "SELECT (SELECT MAX(updated_at) FROM policy) AS policy, "
    "(SELECT MAX(updated_at) FROM interpretation) AS interpretation, "
    "(SELECT MAX(updated_at) FROM catalog_item) AS catalog_item, "
    "(SELECT MAX(updated_at) FROM content_entry) AS content_entry"
)
# Asked every SLOW_SECONDS: published counts (a safety net for rows changed
# without a newer updated_at, e.g. deleted by hand).
_SLOW_SQL = (
    "SELECT (SELECT COUNT(*) FROM policy WHERE status = 'published') AS policy, "
    "(SELECT COUNT(*) FROM interpretation WHERE status = 'published') AS interpretation, "
    "(SELECT COUNT(*) FROM catalog_item WHERE published) AS catalog_item"
)
SLOW_SECONDS = 10.0
KINDS = ("policy", "interpretation", "catalog_item")


ENTRIES = "content_entry"  # menu, regions, synonyms… (bot.catalog.stored): synonyms are indexed


async def read_marker(previous: dict[str, Marker] | None = None) -> dict[str, Marker]:
    """Per kind: (newest change, published count); for ``ENTRIES`` the newest change.
    With ``previous`` only the newest changes are read, counts are carried over."""
    conn = connections.get("default")
    fast = (await conn.execute_query_dict(_FAST_SQL))[0]
    entries = {ENTRIES: (str(fast[ENTRIES] or ""),)}
    if previous is not None:
        kinds = {k: (str(fast[k] or ""), *previous.get(k, ("", None))[1:]) for k in KINDS}
        return kinds | entries
    slow = (await conn.execute_query_dict(_SLOW_SQL))[0]
    return {k: (str(fast[k] or ""), int(slow[k] or 0)) for k in KINDS} | entries


def parse_time(value: str) -> dt.datetime | None:
    """The ``m`` of a marker as an aware datetime (SQLite returns text); None if not a time."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
