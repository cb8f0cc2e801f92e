"""The interpretation (政策解读) of one policy: ``content/interpretations/*.md``,
``/interpretations/{id}``, open data (inside its policy's), feed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from bot.catalog.fields import INTERPRETATION_FIELDS
from bot.catalog.kinds import FeedEntry, Kind, Row, SearchField, register
from bot.catalog.loader import InterpretationDoc
from bot.catalog.models import Interpretation, InterpretationForm, Status
from bot.catalog.render import plain_text

INTERPRETATION_PRIOR = 0.95  # an interpretation lifts its policy; the policy leads the group


def _columns(doc: InterpretationDoc) -> dict[str, Any]:
    return {
        "title": doc.title,
        "policy_id": doc.policy,
        "form": doc.form,
        "issuer": doc.issuer,
        "published_on": doc.published_on,
        "media_url": doc.media_url,
    }


def _form(row: Row) -> str:
    raw = row.get("form")
    return str(getattr(raw, "value", raw) or InterpretationForm.text.value)


def _search_info(row: Row, today: dt.date) -> dict[str, Any]:
    published = row.get("published_on")
    return {
        "title": row["title"],
        "date": published.isoformat() if published else None,
        "policy_id": row.get("policy_id"),
        "form": _form(row),
        "prior": INTERPRETATION_PRIOR,
    }


async def _open_data(
    interps: Sequence[Interpretation], base_url: str, day: dt.date
) -> list[dict[str, Any]]:
    return [
        {
            "id": i.id,
            "title": i.title,
            "form": i.form.value,
            "issuer": i.issuer,
            "published_on": i.published_on.isoformat() if i.published_on else None,
            "url": INTERPRETATION.url(base_url, i.id),
        }
        for i in interps
    ]


def _feed_entry(interp: Interpretation) -> FeedEntry:
    return FeedEntry(
        interp.published_on,
        interp.updated_at,
        INTERPRETATION.path.format(id=interp.id),
        interp.title,
        interp.issuer or "",
        plain_text(interp.body_html, 200),
        interp.form.value,
    )


INTERPRETATION = register(
    Kind(
        name="interpretation",
        label="政策解读",
        model=Interpretation,
        path="/interpretations/{id}",
        route="interpretation",
        published={"status": Status.published},
        folder="interpretations",
        fields=INTERPRETATION_FIELDS,
        document=InterpretationDoc,
        columns=_columns,
        parent="policy",
        parent_key="policy",
        parent_column="policy_id",
        cross_file={"policy": "policy_id"},
        search_fields=(
            SearchField("title", into="title"),
            SearchField("body_md", into="body"),
            SearchField("form", into="meta"),
            SearchField("issuer", into="meta"),
        ),
        search_columns=("policy_id", "published_on"),
        search_info=_search_info,
        open_data=_open_data,
        feed_entry=_feed_entry,
    )
)
