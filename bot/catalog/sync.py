"""``content sync``: make the database match ``content/``, in one transaction.

Idempotent: a file whose hash is unchanged is left alone, and one that was
imported without any problem is not even parsed again (``loader.Unchanged``);
only bodies that changed are rendered, on other cores while the rest loads. Everything is
written inside one transaction, so a crash half-way leaves the previous
catalog exactly as it was. A removed file unpublishes its document (never
deletes it: URLs keep answering, the audit trail keeps its target); a file
that is present but broken keeps its previous version. A policy and its
interpretations are published together (三同步); withdrawing a policy
withdraws its interpretations.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from bot import audit
from bot.catalog import events, stored
from bot.catalog.fields import Problem
from bot.catalog.kinds import Kind, all_kinds, names
from bot.catalog.loader import (
    Content,
    Known,
    KnownRow,
    Unchanged,
    checked_hash,
    context_key,
    load_content,
)
from bot.catalog.models import Area, Status, Topic
from bot.catalog.render import BackgroundRenderer, render_markdown
from bot.config import Settings
from bot.models import AuditEntry

log = logging.getLogger("bot.catalog")

BATCH = 500
WRITE_BATCH = 2000  # rows per executemany
SYNC_ACTOR = "content-sync"
Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class SyncReport:
    """What one sync changed, per kind of document, and the problems it met."""

    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    unpublished: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(+self.created or +self.updated or +self.unpublished)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def summary(self) -> str:
        kinds = [*names(), "area", "topic", *stored.ENTRIES]
        parts = []
        for kind in kinds:
            counts = (
                self.created[kind],
                self.updated[kind],
                self.unpublished[kind],
                self.unchanged[kind],
            )
            if any(counts):
                parts.append(f"{kind}: +{counts[0]} ~{counts[1]} -{counts[2]} ={counts[3]}")
        parts.append(f"{len(self.errors)} errors")
        return "; ".join(parts) + f" ({self.seconds:.2f}s)"


def _chunks(items: Sequence[Any], size: int = BATCH) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class SyncJob:
    def __init__(
        self, content: Content, conn: BaseDBAsyncClient, progress: Progress | None
    ) -> None:
        self.content = content
        self.conn = conn
        self.progress = progress or (lambda stage, done, total: None)
        self.report = SyncReport(problems=list(content.problems))
        self.now = datetime.now(UTC)
        self.audit: list[AuditEntry] = []
        self.withdrawn: dict[str, set[str]] = {}  # kind → ids unpublished by this sync
        self.adopted: dict[str, set[str]] = {}  # kind → console-made ids files now hold

    def record(self, action: str, kind: str, object_id: str, **detail: Any) -> None:
        self.audit.append(
            AuditEntry(
                actor=SYNC_ACTOR,
                role="system",
                action=action,
                object_type=kind,
                object_id=object_id,
                detail=detail,
            )
        )

    def problem(self, path: str, message: str) -> None:
        shown = f"{self.content.root}/{path}"
        self.report.problems.append(Problem(shown, 1, message))

    # ---- areas and topics: upsert, never delete (subscriptions point at topics)

    async def areas_and_topics(self) -> None:
        existing = {a.id: a for a in await Area.all().using_db(self.conn)}
        for doc in self.content.areas:
            values = {"name": doc.name, "aliases": doc.aliases, "position": doc.position}
            await self._upsert(Area, "area", existing.get(doc.id), doc.id, values)
        existing_topics = {t.id: t for t in await Topic.all().using_db(self.conn)}
        for topic in self.content.topics:
            values = {
                "name": topic.name,
                "aliases": topic.aliases,
                "areas": topic.areas,
                "position": topic.position,
            }
            await self._upsert(Topic, "topic", existing_topics.get(topic.id), topic.id, values)

    async def _upsert(
        self, model: Any, kind: str, row: Any, key: str, values: dict[str, Any]
    ) -> None:
        if row is None:
            await model.create(id=key, **values, using_db=self.conn)
            self.report.created[kind] += 1
        elif any(getattr(row, k) != v for k, v in values.items()):
            await model.filter(id=key).using_db(self.conn).update(**values)
            self.report.updated[kind] += 1
        else:
            self.report.unchanged[kind] += 1

    # ---- Markdown kinds (policies, interpretations…), parents first

    async def documents(self, kind: Kind, rendered: dict[str, str]) -> None:
        """Create/update a kind's rows from its files; unpublish those whose file is gone
        (or whose parent was just unpublished)."""
        docs = self.content.documents.get(kind.name, [])
        existing = {row[0]: row for row in await _rows(self.conn, kind)}
        create: list[dict[str, Any]] = []
        update: list[dict[str, Any]] = []
        if kind.adopt is not None:
            self.adopted.update(await kind.adopt(self.conn, self.content.documents))
        adopted = self.adopted.get(kind.name, set())
        for doc in docs:
            old = existing.get(doc.id)
            if old is not None and old[3] is None and doc.id not in adopted:
                self.problem(
                    doc.source_path,
                    f"id '{doc.id}' 已被管理后台创建的{kind.label}占用，本文件未导入",
                )
                continue
            same = self.content.file_hashes[doc.source_path]
            if old is not None and old[1] in same and old[2] == Status.published:
                self.report.unchanged[kind.name] += 1
                continue
            (update if old is not None else create).append(self._values(kind, doc, rendered))
        await self._write(kind, create, update)
        written = {row["id"] for row in create + update}
        await self._mark(kind, [row for key, row in existing.items() if key not in written])
        if kind.after_write is not None:
            await kind.after_write(self.conn, [r["id"] for r in create + update], docs)
        if kind.announces_publication:
            was_published = {key for key, row in existing.items() if row[2] == Status.published}
            newly = [r["id"] for r in create + update if r["id"] not in was_published]
            await events.policies_published(newly, self.conn)
        loaded = {d.id for d in docs}
        parents_gone = self.withdrawn.get(kind.parent or "", set())
        gone = [
            doc_id
            for doc_id, (_, _, status, path, *parent) in existing.items()
            if status == Status.published
            and (
                (parent and parent[0] in parents_gone)
                or (
                    path is not None
                    and doc_id not in loaded
                    and path not in self.content.failed_paths
                )
            )
        ]
        await self._unpublish(kind.model, kind.name, gone)
        self.withdrawn[kind.name] = set(gone)

    def _stored_hash(self, path: str) -> str:
        """``checked_hash`` for a file without any problem (it may be skipped next time),
        its plain hash otherwise (it is read again, and its problems reported again)."""
        plain, checked = self.content.file_hashes[path]
        return plain if path in self.content.problem_paths else checked

    def _values(self, kind: Kind, doc: Any, rendered: dict[str, str]) -> dict[str, Any]:
        assert kind.columns is not None and not isinstance(doc, Unchanged)
        return {
            "id": doc.id,
            **kind.columns(doc),
            "body_md": doc.body_md,
            "body_html": rendered.get(doc.content_hash) or render_markdown(doc.body_md),
            "status": Status.published,
            "source_path": doc.source_path,
            "content_hash": self._stored_hash(doc.source_path),
            "updated_at": self.now,
        }

    async def _write(
        self, kind: Kind, create: list[dict[str, Any]], update: list[dict[str, Any]]
    ) -> None:
        """Plain INSERTs and UPDATEs, many rows a statement: no model object per row."""
        total, done = len(create) + len(update), 0
        defaults = _defaults(kind.model, self.now)
        for chunk in _chunks(create, WRITE_BATCH):
            await _execute_many(self.conn, kind.model, None, [{**defaults, **r} for r in chunk])
            done += len(chunk)
            self.progress(kind.name, done, total)
        for chunk in _chunks(update, WRITE_BATCH):
            await _execute_many(self.conn, kind.model, "id", list(chunk))
            done += len(chunk)
            self.progress(kind.name, done, total)
        self.report.created[kind.name] += len(create)
        self.report.updated[kind.name] += len(update)
        for row in create:
            self.record("content.create", kind.name, row["id"], path=row["source_path"])
        for row in update:
            self.record("content.update", kind.name, row["id"], path=row["source_path"])

    async def _mark(self, kind: Kind, rows: list[tuple[Any, ...]]) -> None:
        """Set ``content_hash`` alone (not ``updated_at``: nothing readers see changed) on
        rows whose file is unchanged but whose problems are not: a file clean again may be
        skipped from now on, one that has a problem now is read in full next time."""
        marks = []
        for doc_id, held, _, path, *_ in rows:
            same = self.content.file_hashes.get(path) if path is not None else None
            if same is not None and held in same:
                wanted = self._stored_hash(path)
                if held != wanted:
                    marks.append({"content_hash": wanted, "id": doc_id})
        for chunk in _chunks(marks, WRITE_BATCH):
            await _execute_many(self.conn, kind.model, "id", list(chunk))

    async def _unpublish(self, model: Any, kind: str, ids: list[str]) -> None:
        for chunk in _chunks(ids):
            await (
                model.filter(id__in=list(chunk))
                .using_db(self.conn)
                .update(status=Status.unpublished, updated_at=self.now)
            )
        self.report.unpublished[kind] += len(ids)
        for object_id in ids:
            self.record("content.unpublish", kind, object_id)


async def _rows(conn: BaseDBAsyncClient, kind: Kind, *more: str) -> list[tuple[Any, ...]]:
    """(id, content_hash, status, source_path[, parent], *more) of every row of a kind,
    in one plain query (a model object per row is most of the time at 100,000 rows)."""
    columns = ["id", "content_hash", "status", "source_path"]
    columns += [kind.parent_column] if kind.parent_column else []
    names = ", ".join(f'"{c}"' for c in [*columns, *more])
    _, rows = await conn.execute_query(f'SELECT {names} FROM "{kind.table}"')
    return [tuple(row) for row in rows]  # sqlite3.Row or asyncpg Record


async def _known() -> tuple[Known, set[str]]:
    """The files the database holds checked clean (which the loader may skip), and every
    stored hash (a body whose hash is among them needs no rendering)."""
    files: dict[str, dict[str, KnownRow]] = {}
    hashes: set[str] = set()
    for kind in all_kinds():
        if kind.folder is not None:
            rows = await _rows(kind.model._meta.db, kind, *kind.cross_file.values())
            files[kind.name] = _published_files(kind, rows)
            hashes |= {str(row[1]) for row in rows}
    areas = [(a.id, a.name, a.aliases) for a in await Area.all()]
    topics = [(t.id, t.name, t.aliases) for t in await Topic.all()]
    regions = [r.name for r in await stored.regions()]
    return Known(files, context_key(areas, topics, regions)), hashes


def _published_files(kind: Kind, rows: list[tuple[Any, ...]]) -> dict[str, KnownRow]:
    """Path → row of the published rows that came from files, with their ``cross_file``
    fields read back as Python values (the last columns of ``rows``)."""
    keys = list(kind.cross_file)
    fields = [kind.model._meta.fields_map[c] for c in kind.cross_file.values()]
    start = len(rows[0]) - len(keys) if rows else 0
    return {
        row[3]: KnownRow(
            row[0],
            row[1],
            {k: f.to_python_value(v) for k, f, v in zip(keys, fields, row[start:], strict=True)},
        )
        for row in rows
        if row[3] is not None and row[2] == Status.published
    }


def _defaults(model: Any, now: datetime) -> dict[str, Any]:
    """A new row's columns as the model would fill them."""
    out = {}
    for name in model._meta.fields_db_projection:
        default = model._meta.fields_map[name].default
        out[name] = default() if callable(default) else default
    return {**out, "created_at": now, "updated_at": now}


async def _execute_many(
    conn: BaseDBAsyncClient, model: Any, key: str | None, rows: list[dict[str, Any]]
) -> None:
    """INSERT ``rows`` (``key`` None) or UPDATE their columns WHERE ``key`` matches; every
    value goes through its field's ``to_db_value``, as the ORM would send it."""
    if not rows:
        return
    columns = [c for c in rows[0] if c != key] + ([key] if key else [])
    fields = [model._meta.fields_map[c] for c in columns]
    values = [
        [f.to_db_value(row[c], model) for f, c in zip(fields, columns, strict=True)] for row in rows
    ]
    mark = (lambda i: f"${i + 1}") if conn.capabilities.dialect == "postgres" else (lambda i: "?")
    table = model._meta.db_table
    if key is None:
        names = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join(mark(i) for i in range(len(columns)))
        sql = f'INSERT INTO "{table}" ({names}) VALUES ({marks})'
    else:
        sets = ", ".join(f'"{c}" = {mark(i)}' for i, c in enumerate(columns[:-1]))
        sql = f'UPDATE "{table}" SET {sets} WHERE "{key}" = {mark(len(columns) - 1)}'
    await conn.execute_many(sql, values)


async def _announce(redis: Any) -> None:
    from redis.exceptions import RedisError

    from bot.search import announce_change

    try:
        await announce_change(redis)
    except (RedisError, OSError):
        log.warning(
            "could not announce the content change; indexes will see it at their next poll",
            exc_info=True,
        )


async def sync_content(
    content_dir: Path | str,
    settings: Settings | None = None,
    *,
    progress: Progress | None = None,
    redis: Any = None,
) -> SyncReport:
    """Import a content folder into the (already initialised) database.

    The database is the one Tortoise is connected to. With ``settings``, each
    kind's ``after_sync`` runs once the transaction committed (a consultation
    now open is announced). With ``redis``, a committed
    change is announced so every process's search index refreshes at once
    (they also poll, so a lost announcement only delays it).
    """
    started = time.perf_counter()
    known, stored_hashes = await _known()
    renderer = BackgroundRenderer()

    def render_if_new(doc: Any) -> None:  # bodies the database has not got, while loading
        if stored_hashes.isdisjoint((doc.content_hash, checked_hash(doc.content_hash))):
            renderer.add(doc.content_hash, doc.body_md)

    try:
        content = await asyncio.to_thread(
            load_content, Path(content_dir), known=known, parsed=render_if_new
        )
        if progress:
            progress("read", sum(len(docs) for docs in content.documents.values()), 0)
        rendered = await asyncio.to_thread(renderer.results)
    finally:
        renderer.close()
    async with in_transaction() as conn:
        job = SyncJob(content, conn, progress)
        await job.areas_and_topics()
        for kind in all_kinds():
            if kind.folder is not None:
                await job.documents(kind, rendered)
            elif kind.sync is not None:
                await kind.sync(job)
        for name, what in (await stored.save_all(content, conn)).items():
            (job.report.created if what == "created" else job.report.updated)[name] += 1
        await audit.record_many(job.audit, conn=conn)
    report = job.report
    if settings is not None:
        for kind in all_kinds():
            if kind.after_sync is not None:
                await kind.after_sync(settings)
    if report.changed and redis is not None:
        await _announce(redis)
    report.seconds = time.perf_counter() - started
    for problem in report.errors:
        log.warning("content problem", extra={"problem": str(problem)})
    log.info("content sync done", extra={"summary": report.summary()})
    return report
