"""A row of the 政务公开事项标准目录: ``content/catalog/*.csv``, ``/catalog/{id}``."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from bot.catalog.kinds import Kind, Row, SearchField, register
from bot.catalog.loader import read_catalogs
from bot.catalog.models import CatalogItem

if TYPE_CHECKING:
    from bot.catalog.sync import SyncJob

CATALOG_PRIOR = 0.85  # catalog rows are short and many; documents come first on a tie
BATCH = 500
_COLUMNS = [
    "area",
    "content",
    "basis",
    "time_limit",
    "subject",
    "channel",
    "audience",
    "method",
    "source_line",
    "published",
    "updated_at",
]


def catalog_title(row: Row) -> str:
    level1, level2 = row.get("level1") or "", row.get("level2") or ""
    return f"{level1}·{level2}" if level2 and level2 != level1 else level1


def _search_info(row: Row, today: dt.date) -> dict[str, Any]:
    return {"title": catalog_title(row), "area": row.get("area") or "", "prior": CATALOG_PRIOR}


async def _sync(job: SyncJob) -> None:
    """Rows are keyed by (file, 序号, 一级事项, 二级事项); a row gone from a file it was
    read from, or from a file removed, is unpublished."""
    conn, content, report = job.conn, job.content, job.report
    rows = await CatalogItem.all().using_db(conn)
    existing = {(r.source_path, r.seq, r.level1, r.level2): r for r in rows}
    folder = content.root / "catalog"
    present = (
        {p.relative_to(content.root).as_posix() for p in folder.glob("*.csv")}
        if folder.is_dir()
        else set()
    )
    create, update, seen = [], [], set()
    for doc in content.catalog:
        key = (doc.source_path, doc.seq, doc.level1, doc.level2)
        seen.add(key)
        values = {
            "area": doc.area,
            "content": doc.content,
            "basis": doc.basis,
            "time_limit": doc.time_limit,
            "subject": doc.subject,
            "channel": doc.channel,
            "audience": doc.audience,
            "method": doc.method,
            "source_line": doc.source_line,
            "published": True,
        }
        row = existing.get(key)
        if row is None:
            create.append(
                CatalogItem(
                    source_path=doc.source_path,
                    seq=doc.seq,
                    level1=doc.level1,
                    level2=doc.level2,
                    updated_at=job.now,
                    **values,
                )
            )
        elif any(getattr(row, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(row, k, v)
            row.updated_at = job.now
            update.append(row)
        else:
            report.unchanged["catalog_item"] += 1
    gone = [
        row
        for key, row in existing.items()
        if row.published
        and key not in seen
        and (row.source_path in content.catalog_files or row.source_path not in present)
    ]
    for row in gone:
        row.published = False
        row.updated_at = job.now
    for start in range(0, len(create), BATCH):
        await CatalogItem.bulk_create(create[start : start + BATCH], using_db=conn)
    changed = update + gone
    for start in range(0, len(changed), 200):
        await CatalogItem.bulk_update(changed[start : start + 200], fields=_COLUMNS, using_db=conn)
    report.created["catalog_item"] += len(create)
    report.updated["catalog_item"] += len(update)
    report.unpublished["catalog_item"] += len(gone)


CATALOG_ITEM = register(
    Kind(
        name="catalog_item",
        label="公开事项目录",
        model=CatalogItem,
        path="/catalog/{id}",
        route="catalog_item",
        published={"published": True},
        read=read_catalogs,
        sync=_sync,
        search_fields=(
            SearchField("level1", into="title"),
            SearchField("level2", into="title"),
            SearchField("area", into="keywords"),
            SearchField("content", into="summary"),
            SearchField("basis", into="body"),
            SearchField("subject", into="body"),
            SearchField("channel", into="body"),
            SearchField("time_limit", into="body"),
        ),
        search_info=_search_info,
        int_ids=True,
    )
)
