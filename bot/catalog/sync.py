"""``content sync``: make the database match ``content/``, in one transaction.

Idempotent: a file whose hash is unchanged is left alone. Everything is
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
from bot.catalog.loader import Content, load_content
from bot.catalog.models import Area, Status, Topic
from bot.catalog.render import render_many, render_markdown
from bot.config import Settings
from bot.models import AuditEntry

log = logging.getLogger("bot.catalog")

BATCH = 500
SYNC_ACTOR = "content-sync"
Progress = Callable[[str, int, int], None]  # (stage, done, total)

# Written for every Markdown kind, beside the kind's own ``columns``.
COMMON_COLUMNS = ["body_md", "body_html", "status", "source_path", "content_hash", "updated_at"]


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
        columns = ["id", "content_hash", "status", "source_path"]
        existing = {
            row[0]: row
            for row in await kind.model.all()
            .using_db(self.conn)
            .values_list(*columns, *([kind.parent_column] if kind.parent_column else []))
        }
        create: list[Any] = []
        update: list[Any] = []
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
            if old is not None and old[1] == doc.content_hash and old[2] == Status.published:
                self.report.unchanged[kind.name] += 1
                continue
            row = kind.model(id=doc.id, **self._values(kind, doc, rendered))
            (update if old is not None else create).append(row)
        fields = [*kind.columns(docs[0]), *COMMON_COLUMNS] if docs and kind.columns else []
        await self._write(kind.model, kind.name, create, update, fields)
        if kind.after_write is not None:
            await kind.after_write(self.conn, [r.id for r in create + update], docs)
        if kind.announces_publication:
            was_published = {key for key, row in existing.items() if row[2] == Status.published}
            newly = [r.id for r in create + update if r.id not in was_published]
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

    def _values(self, kind: Kind, doc: Any, rendered: dict[str, str]) -> dict[str, Any]:
        assert kind.columns is not None
        return {
            **kind.columns(doc),
            "body_md": doc.body_md,
            "body_html": rendered.get(doc.content_hash) or render_markdown(doc.body_md),
            "status": Status.published,
            "source_path": doc.source_path,
            "content_hash": doc.content_hash,
            "updated_at": self.now,
        }

    async def _write(
        self, model: Any, kind: str, create: list[Any], update: list[Any], fields: list[str]
    ) -> None:
        total = len(create) + len(update)
        done = 0
        for chunk in _chunks(create):
            for row in chunk:
                row.created_at = self.now
            await model.bulk_create(chunk, using_db=self.conn)
            done += len(chunk)
            self.progress(kind, done, total)
        for chunk in _chunks(update, 200):
            await model.bulk_update(chunk, fields=fields, using_db=self.conn)
            done += len(chunk)
            self.progress(kind, done, total)
        self.report.created[kind] += len(create)
        self.report.updated[kind] += len(update)
        for row in create:
            self.record("content.create", kind, row.id, path=row.source_path)
        for row in update:
            self.record("content.update", kind, row.id, path=row.source_path)

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


async def _render_changed(content: Content) -> dict[str, str]:
    """Render, off the event loop, the bodies whose file hash the database does not have."""
    known: set[str] = set()
    docs: list[Any] = []
    for kind in all_kinds():
        if kind.folder is not None:
            hashes = await kind.model.all().values_list("content_hash", flat=True)
            known |= {str(h) for h in hashes}
            docs += content.documents.get(kind.name, [])
    todo = {d.content_hash: d.body_md for d in docs if d.content_hash not in known}

    def render() -> dict[str, str]:
        return dict(zip(todo, render_many(list(todo.values())), strict=True))

    return await asyncio.to_thread(render) if todo else {}


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
    content = await asyncio.to_thread(load_content, Path(content_dir))
    if progress:
        progress("read", sum(len(docs) for docs in content.documents.values()), 0)
    rendered = await _render_changed(content)
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
