"""``content export``: what the console and the admin API made, written as content files.

Only documents made in the database (no ``source_path``) and published are
written, as residents see them: ``policies/{id}.md`` and
``interpretations/{id}.md`` with the same front-matter fields that
``content check`` reads (``bot.catalog.fields``), their uploaded attachments
copied to ``attachments/``, and ``areas.yaml``/``topics.yaml`` when the folder
has none, so the folder checks on its own and ``content sync`` of it into
another database gives the same catalog. Existing files are overwritten
only for the documents exported.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import yaml
from tortoise.backends.base.client import BaseDBAsyncClient

from bot.catalog.attachments import CONTENT_FOLDER, locate
from bot.catalog.fields import INTERPRETATION_FIELDS, POLICY_FIELDS
from bot.catalog.loader import InterpretationDoc, PolicyDoc
from bot.catalog.models import Area, Interpretation, Policy, Status, Topic


@dataclass
class ExportReport:
    policies: list[str] = field(default_factory=list)
    interpretations: list[str] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)
    missing_attachments: list[str] = field(default_factory=list)
    wrote_lists: list[str] = field(default_factory=list)  # areas.yaml / topics.yaml


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    return value


def _front_matter(values: dict[str, Any], specs: dict[str, Any], body: str) -> str:
    """Fields in the converters' order, defaults left out (as a person would write them)."""
    meta: dict[str, Any] = {}
    for key, spec in specs.items():
        value = _plain(values.get(key))
        if value in (None, "", []) or value == _plain(spec.default):
            continue
        meta[key] = value
    head = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=1000)
    return f"---\n{head}---\n\n{body.strip()}\n"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".part")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


async def export_content(directory: Path, content_dir: Path, uploads: Path) -> ExportReport:
    """Write every published, database-made policy and its interpretations into ``directory``."""
    root = Path(directory)
    report = ExportReport()
    policies = await Policy.filter(source_path__isnull=True, status=Status.published).order_by("id")
    for policy in policies:
        values = await _policy_fields(policy)
        _write(
            root / "policies" / f"{policy.id}.md",
            _front_matter(values, POLICY_FIELDS, policy.body_md),
        )
        report.policies.append(policy.id)
        for item in policy.attachments or []:
            source = locate(item["file"], content_dir, uploads)
            if source is None:
                report.missing_attachments.append(item["file"])
                continue
            target = root / CONTENT_FOLDER / item["file"]
            if source.resolve() != target.resolve():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
            report.attachments.append(item["file"])
    interps = await Interpretation.filter(
        policy_id__in=report.policies, status=Status.published
    ).order_by("id")
    for interp in interps:
        values = _interp_fields(interp)
        _write(
            root / "interpretations" / f"{interp.id}.md",
            _front_matter(values, INTERPRETATION_FIELDS, interp.body_md),
        )
        report.interpretations.append(interp.id)
    await _lists(root, report)
    return report


async def _policy_fields(policy: Policy, conn: BaseDBAsyncClient | None = None) -> dict[str, Any]:
    await policy.fetch_related("areas", "topics", using_db=conn)
    values: dict[str, Any] = {key: getattr(policy, key, None) for key in POLICY_FIELDS}
    values["areas"] = [a.name for a in policy.areas]
    values["topics"] = [t.id for t in policy.topics]
    return values


def _interp_fields(interp: Interpretation) -> dict[str, Any]:
    values = {key: getattr(interp, key, None) for key in INTERPRETATION_FIELDS}
    values["policy"] = interp.policy_id  # type: ignore[attr-defined]
    return values


def _same(values: dict[str, Any], body: str, doc: Any) -> bool:
    return body.strip() == doc.body_md.strip() and all(
        _plain(values[key]) == _plain(getattr(doc, key)) for key in values
    )


async def adoptable(
    conn: BaseDBAsyncClient, documents: dict[str, list[Any]]
) -> dict[str, set[str]]:
    """Ids of console-made documents that files now hold exactly as published (an
    export synced back), by kind: ``content sync`` takes them over instead of refusing them.

    A policy is taken over only with every published interpretation of it."""
    docs: dict[str, PolicyDoc] = {d.id: d for d in documents.get("policy", [])}
    made = Policy.filter(source_path__isnull=True, status=Status.published).using_db(conn)
    rows = [p for p in await made if p.id in docs]  # few: the console's, not the files'
    files: dict[str, InterpretationDoc] = {d.id: d for d in documents.get("interpretation", [])}
    taken: dict[str, set[str]] = {"policy": set(), "interpretation": set()}
    for policy in rows:
        if not _same(await _policy_fields(policy, conn), policy.body_md, docs[policy.id]):
            continue
        own = await Interpretation.filter(policy_id=policy.id, status=Status.published).using_db(
            conn
        )
        if all(i.id in files and _same(_interp_fields(i), i.body_md, files[i.id]) for i in own):
            taken["policy"].add(policy.id)
            taken["interpretation"] |= {i.id for i in own}
    return taken


async def _lists(root: Path, report: ExportReport) -> None:
    """The areas and topics the documents name, when the folder has no lists of its own."""
    if not (root / "areas.yaml").exists():
        areas = [{"id": a.id, "name": a.name, "aliases": a.aliases} for a in await Area.all()]
        _write(root / "areas.yaml", yaml.safe_dump(areas, allow_unicode=True, sort_keys=False))
        report.wrote_lists.append("areas.yaml")
    if not (root / "topics.yaml").exists():
        topics = [
            {"id": t.id, "name": t.name, "aliases": t.aliases, "areas": t.areas}
            for t in await Topic.all()
        ]
        _write(root / "topics.yaml", yaml.safe_dump(topics, allow_unicode=True, sort_keys=False))
        report.wrote_lists.append("topics.yaml")
