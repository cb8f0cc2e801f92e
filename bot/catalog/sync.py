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
from bot.catalog.fields import Problem
from bot.catalog.loader import Content, InterpretationDoc, PolicyDoc, load_content
from bot.catalog.models import Area, CatalogItem, Interpretation, Policy, Status, Topic
from bot.catalog.render import render_many, render_markdown
from bot.config import Settings
from bot.models import AuditEntry

log = logging.getLogger("bot.catalog")

BATCH = 500
SYNC_ACTOR = "content-sync"
Progress = Callable[[str, int, int], None]  # (stage, done, total)

_POLICY_FIELDS = [
    "title",
    "issuer",
    "written_on",
    "published_on",
    "doc_number",
    "index_number",
    "keywords",
    "summary",
    "body_md",
    "body_html",
    "validity",
    "expires_on",
    "replaced_by",
    "disclosure",
    "requires_interpretation",
    "status",
    "source_path",
    "content_hash",
    "updated_at",
]
_INTERP_FIELDS = [
    "title",
    "policy_id",
    "form",
    "issuer",
    "published_on",
    "media_url",
    "body_md",
    "body_html",
    "status",
    "source_path",
    "content_hash",
    "updated_at",
]
_CATALOG_FIELDS = [
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
        kinds = ["policy", "interpretation", "catalog_item", "area", "topic"]
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


def _placeholders(conn: BaseDBAsyncClient, count: int, start: int = 1) -> str:
    if conn.capabilities.dialect == "postgres":
        return ", ".join(f"${i}" for i in range(start, start + count))
    return ", ".join("?" * count)


def _chunks(items: Sequence[Any], size: int = BATCH) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class _Sync:
    def __init__(
        self, content: Content, conn: BaseDBAsyncClient, progress: Progress | None
    ) -> None:
        self.content = content
        self.conn = conn
        self.progress = progress or (lambda stage, done, total: None)
        self.report = SyncReport(problems=list(content.problems))
        self.now = datetime.now(UTC)
        self.audit: list[AuditEntry] = []

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

    # ---- policies and interpretations

    async def policies(self, rendered: dict[str, str]) -> set[str]:
        """Create/update policies from files; returns the ids unpublished."""
        docs = self.content.policies
        existing = {
            pid: (digest, status, path)
            for pid, digest, status, path in await Policy.all()
            .using_db(self.conn)
            .values_list("id", "content_hash", "status", "source_path")
        }
        create: list[Policy] = []
        update: list[Policy] = []
        for doc in docs:
            old = existing.get(doc.id)
            if old is not None and old[2] is None:
                self.problem(
                    doc.source_path, f"id '{doc.id}' 已被管理后台创建的政策占用，本文件未导入"
                )
                continue
            if old is not None and old[0] == doc.content_hash and old[1] == Status.published:
                self.report.unchanged["policy"] += 1
                continue
            row = Policy(id=doc.id, **self._policy_values(doc, rendered))
            (update if old is not None else create).append(row)
        await self._write(Policy, "policy", create, update, _POLICY_FIELDS)
        await self._links([p.id for p in create + update], docs)
        loaded = {d.id for d in docs}
        gone = [
            pid
            for pid, (_, status, path) in existing.items()
            if path is not None
            and status == Status.published
            and pid not in loaded
            and path not in self.content.failed_paths
        ]
        await self._unpublish(Policy, "policy", gone)
        return set(gone)

    def _policy_values(self, doc: PolicyDoc, rendered: dict[str, str]) -> dict[str, Any]:
        return {
            "title": doc.title,
            "issuer": doc.issuer,
            "written_on": doc.written_on,
            "published_on": doc.published_on,
            "doc_number": doc.doc_number,
            "index_number": doc.index_number,
            "keywords": doc.keywords,
            "summary": doc.summary,
            "body_md": doc.body_md,
            "body_html": rendered.get(doc.content_hash) or render_markdown(doc.body_md),
            "validity": doc.validity,
            "expires_on": doc.expires_on,
            "replaced_by": doc.replaced_by,
            "disclosure": doc.disclosure,
            "requires_interpretation": doc.requires_interpretation,
            "status": Status.published,
            "source_path": doc.source_path,
            "content_hash": doc.content_hash,
            "updated_at": self.now,
        }

    async def interpretations(self, rendered: dict[str, str], withdrawn: set[str]) -> None:
        docs = self.content.interpretations
        existing = {
            iid: (digest, status, path, pid)
            for iid, digest, status, path, pid in await Interpretation.all()
            .using_db(self.conn)
            .values_list("id", "content_hash", "status", "source_path", "policy_id")
        }
        create: list[Interpretation] = []
        update: list[Interpretation] = []
        for doc in docs:
            old = existing.get(doc.id)
            if old is not None and old[2] is None:
                self.problem(
                    doc.source_path, f"id '{doc.id}' 已被管理后台创建的解读占用，本文件未导入"
                )
                continue
            if old is not None and old[0] == doc.content_hash and old[1] == Status.published:
                self.report.unchanged["interpretation"] += 1
                continue
            row = Interpretation(id=doc.id, **self._interp_values(doc, rendered))
            (update if old is not None else create).append(row)
        await self._write(Interpretation, "interpretation", create, update, _INTERP_FIELDS)
        loaded = {d.id for d in docs}
        gone = [
            iid
            for iid, (_, status, path, pid) in existing.items()
            if status == Status.published
            and (
                pid in withdrawn
                or (
                    path is not None and iid not in loaded and path not in self.content.failed_paths
                )
            )
        ]
        await self._unpublish(Interpretation, "interpretation", gone)

    def _interp_values(self, doc: InterpretationDoc, rendered: dict[str, str]) -> dict[str, Any]:
        return {
            "title": doc.title,
            "policy_id": doc.policy,
            "form": doc.form,
            "issuer": doc.issuer,
            "published_on": doc.published_on,
            "media_url": doc.media_url,
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

    async def _links(self, policy_ids: list[str], docs: list[PolicyDoc]) -> None:
        """Rewrite the policy↔area and policy↔topic rows of changed policies."""
        if not policy_ids:
            return
        wanted = set(policy_ids)
        area_ids = dict(await Area.all().using_db(self.conn).values_list("name", "id"))
        areas = [
            [d.id, area_ids[a]] for d in docs if d.id in wanted for a in dict.fromkeys(d.areas)
        ]
        topics = [[d.id, t] for d in docs if d.id in wanted for t in dict.fromkeys(d.topics)]
        for table, column, rows in (
            ("policy_area", "area_id", areas),
            ("policy_topic", "topic_id", topics),
        ):
            for chunk in _chunks(policy_ids):
                marks = _placeholders(self.conn, len(chunk))
                await self.conn.execute_query(
                    f'DELETE FROM "{table}" WHERE "policy_id" IN ({marks})', list(chunk)
                )
            if rows:
                marks = _placeholders(self.conn, 2)
                await self.conn.execute_many(
                    f'INSERT INTO "{table}" ("policy_id", "{column}") VALUES ({marks})', rows
                )

    # ---- the standard catalog

    async def catalog(self) -> None:
        rows = await CatalogItem.all().using_db(self.conn)
        existing = {(r.source_path, r.seq, r.level1, r.level2): r for r in rows}
        present = (
            {
                p.relative_to(self.content.root).as_posix()
                for p in (self.content.root / "catalog").glob("*.csv")
            }
            if (self.content.root / "catalog").is_dir()
            else set()
        )
        create, update, seen = [], [], set()
        for doc in self.content.catalog:
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
                        updated_at=self.now,
                        **values,
                    )
                )
            elif any(getattr(row, k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(row, k, v)
                row.updated_at = self.now
                update.append(row)
            else:
                self.report.unchanged["catalog_item"] += 1
        gone = [
            row
            for key, row in existing.items()
            if row.published
            and key not in seen
            and (row.source_path in self.content.catalog_files or row.source_path not in present)
        ]
        for row in gone:
            row.published = False
            row.updated_at = self.now
        for chunk in _chunks(create):
            await CatalogItem.bulk_create(chunk, using_db=self.conn)
        for chunk in _chunks(update + gone, 200):
            await CatalogItem.bulk_update(chunk, fields=_CATALOG_FIELDS, using_db=self.conn)
        self.report.created["catalog_item"] += len(create)
        self.report.updated["catalog_item"] += len(update)
        self.report.unpublished["catalog_item"] += len(gone)


async def _render_changed(content: Content) -> dict[str, str]:
    """Render, off the event loop, the bodies whose file hash the database does not have."""
    known = set(await Policy.all().values_list("content_hash", flat=True))
    known |= set(await Interpretation.all().values_list("content_hash", flat=True))
    docs: list[PolicyDoc | InterpretationDoc] = [*content.policies, *content.interpretations]
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

    ``settings`` is accepted for symmetry with the other entry points; the
    database is the one Tortoise is connected to. With ``redis``, a committed
    change is announced so every process's search index refreshes at once
    (they also poll, so a lost announcement only delays it).
    """
    started = time.perf_counter()
    content = await asyncio.to_thread(load_content, Path(content_dir))
    if progress:
        progress("read", len(content.policies) + len(content.interpretations), 0)
    rendered = await _render_changed(content)
    async with in_transaction() as conn:
        job = _Sync(content, conn, progress)
        await job.areas_and_topics()
        withdrawn = await job.policies(rendered)
        await job.interpretations(rendered, withdrawn)
        await job.catalog()
        await audit.record_many(job.audit, conn=conn)
    report = job.report
    if report.changed and redis is not None:
        await _announce(redis)
    report.seconds = time.perf_counter() - started
    for problem in report.errors:
        log.warning("content problem", extra={"problem": str(problem)})
    log.info("content sync done", extra={"summary": report.summary()})
    return report
