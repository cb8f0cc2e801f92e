"""``content/consultations/*.md``: drafts out for comment and surveys, read like every
other content kind (front matter converted field by field, problems as
``path:line: message``, a bad file skipped, never fatal) and imported by ``content sync``.

The body is the draft, split into sections by ``##`` headings (text before the
first heading is the introduction). In a 调研 each ``##`` section is one question:
its heading is the question; list items written ``- ( ) 选项`` make it a single
choice, ``- [ ] 选项`` a multiple choice, and a section without them takes a
free-text answer. The legal minimum period is checked here with the working-day
calendar; a shorter one needs ``shortened_reason``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.catalog.deadlines import WorkCalendar
from bot.catalog.fields import Spec, choice, date, ident, str_list, text
from bot.catalog.render import render_markdown
from bot.participation.clock import period_shortfall
from bot.participation.models import ConsultationKind

if TYPE_CHECKING:
    from tortoise.backends.base.client import BaseDBAsyncClient

    from bot.catalog.loader import Reader

FOLDER = "consultations"
FIELDS: dict[str, Spec] = {
    "id": Spec(ident, required=True),
    "title": Spec(text(200), required=True),
    "issuer": Spec(text(128), required=True),
    "kind": Spec(choice(ConsultationKind), required=True),
    "opens_on": Spec(date, required=True),
    "closes_on": Spec(date, required=True),
    "shortened_reason": Spec(text(1000)),
    "topics": Spec(str_list(), default=[]),
    "areas": Spec(str_list(), default=[]),
}
_HEADING = re.compile(r"^##(?!#)\s*(.+?)\s*#*\s*$", re.MULTILINE)
_CHOICE = re.compile(r"^\s*[-*]\s*(\(\s?\)|\[\s?\])\s*(.+?)\s*$")


@dataclass
class ConsultationDoc:
    id: str
    title: str
    issuer: str
    kind: ConsultationKind
    opens_on: dt.date
    closes_on: dt.date
    shortened_reason: str | None
    topics: list[str]
    areas: list[str]
    body_md: str
    source_path: str
    content_hash: str
    lines: dict[str, int] = field(default_factory=dict)


def split_sections(body: str, kind: str) -> tuple[str, list[dict[str, Any]]]:
    """(intro html, sections); a 调研's sections carry their question's ``choices`` and ``multiple``."""
    parts = _HEADING.split(body)
    intro, sections = parts[0], []
    for number, (heading, chunk) in enumerate(zip(parts[1::2], parts[2::2], strict=True), start=1):
        section: dict[str, Any] = {"number": number, "heading": heading.strip()}
        if kind == ConsultationKind.survey:
            marks = [m for line in chunk.splitlines() if (m := _CHOICE.match(line))]
            section["choices"] = [m.group(2) for m in marks]
            section["multiple"] = bool(marks) and marks[0].group(1).startswith("[")
            chunk = "\n".join(line for line in chunk.splitlines() if not _CHOICE.match(line))
        section["html"] = render_markdown(chunk.strip())
        sections.append(section)
    return render_markdown(intro.strip()), sections


def read_consultations(reader: Reader, calendar: WorkCalendar) -> list[ConsultationDoc]:
    """Read every ``consultations/*.md`` of the folder ``reader`` is reading (the
    consultation kind's ``read``); problems go to the reader."""
    root = reader.root
    folder = root / FOLDER
    docs: dict[str, ConsultationDoc] = {}
    if not folder.is_dir():
        return []
    topics = {t.id for t in reader.content.topics}
    areas = {a.name for a in reader.content.areas}
    for path in sorted(folder.glob("*.md")):
        rel = path.relative_to(root).as_posix()
        parsed = reader.front_matter(rel)
        if parsed is None:
            continue
        meta, body, lines, digest = parsed
        values = reader.fields(rel, meta, lines, FIELDS)
        if values is None:
            continue
        doc = ConsultationDoc(
            **values, body_md=body, source_path=rel, content_hash=digest, lines=lines
        )
        short = period_shortfall(calendar, doc.kind.value, doc.opens_on, doc.closes_on)
        if short and (doc.closes_on < doc.opens_on or not doc.shortened_reason):
            hint = (
                ""
                if doc.closes_on < doc.opens_on
                else "；确需缩短的，请在 shortened_reason 中说明理由"
            )
            reader.fail(rel, lines.get("closes_on", 1), f"closes_on: {short}{hint}")
            continue
        unknown = [t for t in doc.topics if t not in topics]
        if unknown:
            reader.fail(
                rel,
                lines.get("topics", 1),
                f"topics: 未知主题 {'、'.join(unknown)}（见 topics.yaml）",
            )
            continue
        bad_areas = [a for a in doc.areas if a not in areas]
        if bad_areas:
            reader.fail(
                rel,
                lines.get("areas", 1),
                f"areas: 未知领域 {'、'.join(bad_areas)}（见 areas.yaml）",
            )
            continue
        if doc.id in docs:
            reader.fail(
                rel, lines.get("id", 1), f"id: '{doc.id}' 与 {docs[doc.id].source_path} 重复"
            )
            continue
        if doc.kind == ConsultationKind.survey and not _HEADING.search(body):
            reader.fail(rel, 1, "调研至少需要一个以 ## 开头的问题")
            continue
        docs[doc.id] = doc
    return list(docs.values())


def to_markdown(c: Any) -> str:
    """A consultation written in the console, as a ``consultations/*.md`` file (for
    ``policybot content export``): reading it back gives the same consultation."""
    import yaml

    meta: dict[str, Any] = {
        "id": c.id, "title": c.title, "issuer": c.issuer, "kind": c.kind.value,
        "opens_on": c.opens_on, "closes_on": c.closes_on,
    }  # fmt: skip
    if c.shortened_reason:
        meta["shortened_reason"] = c.shortened_reason
    if c.topics:
        meta["topics"] = list(c.topics)
    if c.areas:
        meta["areas"] = list(c.areas)
    head = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)
    return f"---\n{head}---\n{c.body_md.strip()}\n"


async def sync_consultations(
    docs: list[ConsultationDoc], failed: set[str], conn: BaseDBAsyncClient, now: dt.datetime
) -> dict[str, int]:
    """Import the files' consultations (the consultation kind's ``sync``); a removed file
    unpublishes (comments stay), a file that failed to load keeps its last good version.
    ``updated_at`` is set to ``now`` on every change: the search index's change marker."""
    from bot.participation.models import Consultation, ConsultationStatus

    counts = {"added": 0, "updated": 0, "unpublished": 0}
    existing = {
        c.id: c for c in await Consultation.filter(source_path__isnull=False).using_db(conn)
    }
    for doc in docs:
        intro, sections = split_sections(doc.body_md, doc.kind.value)
        values = {
            "title": doc.title, "issuer": doc.issuer, "kind": doc.kind, "opens_on": doc.opens_on,
            "closes_on": doc.closes_on, "shortened_reason": doc.shortened_reason,
            "topics": doc.topics, "areas": doc.areas, "intro_html": intro, "sections": sections,
            "body_md": doc.body_md, "source_path": doc.source_path, "content_hash": doc.content_hash,
            "status": ConsultationStatus.published, "updated_at": now,
        }  # fmt: skip
        row = (
            existing.pop(doc.id, None)
            or await Consultation.filter(id=doc.id).using_db(conn).first()
        )
        if row is None:
            await Consultation.create(id=doc.id, **values, using_db=conn)
            counts["added"] += 1
        elif row.content_hash != doc.content_hash or row.status != ConsultationStatus.published:
            await Consultation.filter(id=doc.id).using_db(conn).update(**values)
            counts["updated"] += 1
    for row in existing.values():
        if row.source_path in failed or row.status == ConsultationStatus.unpublished:
            continue
        await (
            Consultation.filter(id=row.id)
            .using_db(conn)
            .update(status=ConsultationStatus.unpublished, updated_at=now)
        )
        counts["unpublished"] += 1
    return counts
