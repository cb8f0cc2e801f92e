"""A draft out for comment or a survey (征求意见/调研): ``content/consultations/*.md``,
``/consultations/{id}``, search, open data, feed. Its rules live in ``bot.participation``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bot.catalog.deadlines import WorkCalendar
from bot.catalog.kinds import FeedEntry, Kind, Row, SearchField, register
from bot.catalog.render import plain_text
from bot.participation import consultations
from bot.participation.content import read_consultations, sync_consultations
from bot.participation.models import Consultation, ConsultationStatus

if TYPE_CHECKING:
    from bot.catalog.loader import Reader
    from bot.catalog.sync import SyncJob

CONSULTATION_PRIOR = 0.9  # a consultation is a draft: the policies in force come first on a tie
NAME = "consultation"


def _read(reader: Reader) -> None:
    docs = read_consultations(reader, WorkCalendar(reader.content.holidays))
    reader.content.documents[NAME] = docs


async def _sync(job: SyncJob) -> None:
    docs = job.content.documents.get(NAME, [])
    counts = await sync_consultations(docs, job.content.failed_paths, job.conn, job.now)
    job.report.created[NAME] += counts["added"]
    job.report.updated[NAME] += counts["updated"]
    job.report.unpublished[NAME] += counts["unpublished"]


def _search_info(row: Row, today: dt.date) -> dict[str, Any]:
    opens = row.get("opens_on")
    return {
        "title": row["title"],
        "date": opens.isoformat() if opens else None,
        "prior": CONSULTATION_PRIOR,
    }


async def _open_data(
    rows: Sequence[Consultation], base_url: str, day: dt.date
) -> list[dict[str, Any]]:
    return [await consultations.to_json(c, day, base_url) for c in rows]


def _feed_entry(c: Consultation) -> FeedEntry:
    """Open consultations, and the feedback report once out (the entry updates then).
    Comments never appear here: the feed carries nothing a resident wrote."""
    path, period = (
        CONSULTATION.path.format(id=c.id),
        f"征求意见期限：{c.opens_on} 至 {c.closes_on}。",
    )
    if c.report_published_at:
        summary = f"意见采纳情况已公布。{c.report_text or ''}{period}"
        return FeedEntry(
            None, c.report_published_at, path, c.title, c.issuer, summary, "意见采纳情况"
        )
    summary = period + plain_text(c.intro_html, 160)
    return FeedEntry(c.opens_on, c.updated_at, path, c.title, c.issuer, summary, c.kind.value)


CONSULTATION = register(
    Kind(
        name=NAME,
        label="征求意见",
        model=Consultation,
        path="/consultations/{id}",
        route="consultation",
        published={"status": ConsultationStatus.published},
        read=_read,
        sync=_sync,
        after_sync=consultations.announce_openings,
        search_fields=(
            SearchField("title", into="title"),
            SearchField("topics", into="keywords"),
            SearchField("issuer", into="meta"),
            SearchField("kind", into="meta"),
            SearchField("body_md", into="body"),
        ),
        search_columns=("opens_on",),
        search_info=_search_info,
        open_data=_open_data,
        feed_entry=_feed_entry,
        feed_filter=lambda day: {"opens_on__lte": day},
    )
)
