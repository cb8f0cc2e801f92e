"""The policy (政策文件): ``content/policies/*.md``, ``/policies/{id}``, open data, feed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from bot.catalog.attachments import CONTENT_FOLDER as ATTACHMENTS
from bot.catalog.attachments import read_type
from bot.catalog.export import adoptable
from bot.catalog.fields import POLICY_FIELDS, Spec
from bot.catalog.kinds import FeedEntry, Kind, Row, SearchField, kind, register
from bot.catalog.loader import PolicyDoc, Reader
from bot.catalog.models import Area, Interpretation, Policy, Status, Validity
from bot.catalog.render import plain_text
from bot.catalog.validity import effective_validity
from bot.eligibility.conditions import convert as eligibility_rule
from bot.eligibility.conditions import town_paths

LAPSED_PRIOR = 0.6  # a lapsed or repealed policy ranks below a valid one on the same words
BATCH = 500
#: every field of a policy file, the console's editor and the admin API (政策找人's rule too)
FIELDS = {**POLICY_FIELDS, "eligibility": Spec(eligibility_rule)}


def _check(reader: Reader, doc: PolicyDoc) -> bool:
    """Rules within one file, beyond each field's own converter."""
    rel, lines = doc.source_path, doc.lines
    if doc.published_on and doc.published_on < doc.written_on:
        reader.fail(rel, lines.get("published_on", 1), "published_on: 发布日期早于成文日期")
        return False
    if doc.expires_on and doc.expires_on < doc.written_on:
        reader.fail(rel, lines.get("expires_on", 1), "expires_on: 失效日期早于成文日期")
        return False
    if (missing := _missing_attachment(reader, doc.attachments)) is not None:
        reader.fail(rel, lines.get("attachments", 1),
                    f"attachments: {ATTACHMENTS}/{missing} 不存在或不是 PDF、图片、MP4")  # fmt: skip
        return False
    if doc.replaced_by == doc.id:
        reader.fail(rel, lines.get("replaced_by", 1), "replaced_by: 不能指向自身")
        return False
    if doc.eligibility and not _towns_known(reader, doc):
        return False
    if doc.replaced_by and doc.validity == Validity.valid:
        reader.problem(
            rel, lines["replaced_by"], "已填写 replaced_by，但 validity 仍为 有效", "warning"
        )
    return True


def _missing_attachment(reader: Reader, attachments: list[dict[str, str]]) -> str | None:
    """The first attachment that is not there or not of a type we serve."""
    for item in attachments:
        path = reader.root / ATTACHMENTS / item["file"]
        if not path.is_file() or read_type(path) is None:
            return item["file"]
    return None


def _towns_known(reader: Reader, doc: PolicyDoc) -> bool:
    """``town`` conditions name towns of regions.yaml (read before the policies)."""
    known = {r.name for r in reader.content.regions}
    for path, town in town_paths(doc.eligibility or {}):
        if town not in known:
            line = doc.lines.get(path) or doc.lines.get("eligibility", 1)
            reader.fail(doc.source_path, line, f"eligibility: regions.yaml 中没有 '{town}'")
            return False
    return True


def _columns(doc: PolicyDoc) -> dict[str, Any]:
    return {
        "title": doc.title,
        "issuer": doc.issuer,
        "written_on": doc.written_on,
        "published_on": doc.published_on,
        "doc_number": doc.doc_number,
        "index_number": doc.index_number,
        "keywords": doc.keywords,
        "summary": doc.summary,
        "validity": doc.validity,
        "expires_on": doc.expires_on,
        "replaced_by": doc.replaced_by,
        "disclosure": doc.disclosure,
        "requires_interpretation": doc.requires_interpretation,
        "attachments": doc.attachments,
        "eligibility": doc.eligibility,
    }


def _placeholders(conn: BaseDBAsyncClient, count: int) -> str:
    if conn.capabilities.dialect == "postgres":
        return ", ".join(f"${i}" for i in range(1, count + 1))
    return ", ".join("?" * count)


async def _links(conn: BaseDBAsyncClient, policy_ids: list[str], docs: list[PolicyDoc]) -> None:
    """Rewrite the policy↔area and policy↔topic rows of changed policies."""
    if not policy_ids:
        return
    wanted = set(policy_ids)
    area_ids = dict(await Area.all().using_db(conn).values_list("name", "id"))
    areas = [[d.id, area_ids[a]] for d in docs if d.id in wanted for a in dict.fromkeys(d.areas)]
    topics = [[d.id, t] for d in docs if d.id in wanted for t in dict.fromkeys(d.topics)]
    for table, column, rows in (
        ("policy_area", "area_id", areas),
        ("policy_topic", "topic_id", topics),
    ):
        for start in range(0, len(policy_ids), BATCH):
            chunk = policy_ids[start : start + BATCH]
            marks = _placeholders(conn, len(chunk))
            await conn.execute_query(
                f'DELETE FROM "{table}" WHERE "policy_id" IN ({marks})', list(chunk)
            )
        if rows:
            marks = _placeholders(conn, 2)
            await conn.execute_many(
                f'INSERT INTO "{table}" ("policy_id", "{column}") VALUES ({marks})', rows
            )


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _search_info(row: Row, today: dt.date) -> dict[str, Any]:
    # The validity residents see (an expired expires_on reads 失效), as on the pages.
    raw = row.get("validity")
    stated = SimpleNamespace(
        validity=Validity(str(getattr(raw, "value", raw) or Validity.valid.value)),
        expires_on=row.get("expires_on"),
    )
    validity = effective_validity(stated, today).value
    return {
        "title": row["title"],
        "doc_number": row.get("doc_number"),
        "date": _iso(row.get("published_on") or row.get("written_on")),
        "validity": validity,
        "replaced_by": row.get("replaced_by"),
        "prior": LAPSED_PRIOR if validity != Validity.valid.value else 1.0,
    }


def _date(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


async def _open_data(
    policies: Sequence[Policy], base_url: str, day: dt.date
) -> list[dict[str, Any]]:
    """The open-data shape of policies (``/api/v1/policies``), with their interpretations."""
    ids = [p.id for p in policies]
    rows = await Interpretation.filter(policy_id__in=ids, status=Status.published).order_by("id")
    interps: dict[str, list[Interpretation]] = {i: [] for i in ids}
    for row in rows:
        interps[row.policy_id].append(row)  # type: ignore[attr-defined]
    interpretation = kind("interpretation")
    if policies:
        await Policy.fetch_for_list(list(policies), "areas", "topics")
    out = []
    for policy in policies:
        out.append(
            {
                "id": policy.id,
                "title": policy.title,
                "issuer": policy.issuer,
                "doc_number": policy.doc_number,
                "index_number": policy.index_number,
                "written_on": _date(policy.written_on),
                "published_on": _date(policy.published_on),
                "validity": effective_validity(policy, day).value,
                "expires_on": _date(policy.expires_on),
                "replaced_by": policy.replaced_by,
                "disclosure": policy.disclosure.value,
                "areas": [a.name for a in policy.areas],
                "topics": [t.id for t in policy.topics],
                "keywords": policy.keywords,
                "summary": policy.summary,
                "url": POLICY.url(base_url, policy.id),
                "interpretations": await interpretation.json(interps[policy.id], base_url, day),
            }
        )
    return out


def _feed_entry(policy: Policy) -> FeedEntry:
    return FeedEntry(
        policy.published_on,
        policy.updated_at,
        POLICY.path.format(id=policy.id),
        policy.title,
        policy.issuer,
        policy.summary or plain_text(policy.body_html, 200),
        POLICY.label,
    )


POLICY = register(
    Kind(
        name="policy",
        label="政策文件",
        model=Policy,
        path="/policies/{id}",
        route="policy",
        published={"status": Status.published},
        folder="policies",
        fields=FIELDS,
        document=PolicyDoc,
        check=_check,
        columns=_columns,
        after_write=_links,
        cross_file={
            "replaced_by": "replaced_by",
            "requires_interpretation": "requires_interpretation",
            "attachments": "attachments",
        },
        recheck=lambda reader, row: _missing_attachment(reader, row.refs["attachments"]) is None,
        announces_publication=True,
        adopt=adoptable,
        search_fields=(
            SearchField("title", into="title"),
            SearchField("keywords", into="keywords"),
            SearchField("summary", into="summary"),
            SearchField("body_md", into="body"),
            SearchField("issuer", into="meta"),
            SearchField("doc_number", into="meta"),
            SearchField("areas", into="meta"),
        ),
        search_related={"areas": "areas__name"},
        search_columns=("written_on", "published_on", "validity", "expires_on", "replaced_by"),
        search_info=_search_info,
        open_data=_open_data,
        feed_entry=_feed_entry,
    )
)
