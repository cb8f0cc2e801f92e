"""What a search returns: one ``Hit`` per result, carrying what the chat reply shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Hit:
    """A result. For a policy, ``interpretations`` lists its published
    interpretations as ``(title, url, form)``; a lapsed or repealed policy
    carries its replacement in ``replaced_by`` (a ``Hit``, or the id when the
    replacement is not published)."""

    kind: str  # "policy" | "interpretation" | "catalog_item"
    id: str
    title: str
    url: str
    score: float
    doc_number: str | None = None
    date: str | None = None  # ISO date: published (else written) date
    validity: str | None = None  # 有效 | 失效 | 废止 (policies)
    replaced_by: Hit | str | None = None
    interpretations: list[tuple[str, str, str]] = field(default_factory=list)
    interpretation_ids: list[str] = field(default_factory=list)  # parallel to interpretations
    form: str | None = None  # interpretations: 文字解读, 图解 …
    area: str | None = None  # catalog items: the area (领域)
    policy_id: str | None = None  # interpretations: the policy they explain

    def to_json(self) -> dict[str, Any]:
        """The contract's result object for GET /api/v1/search."""
        return {
            "kind": self.kind,
            "id": self.id,
            "title": self.title,
            "url": self.url,
            "score": round(self.score, 4),
        }


@dataclass
class Passage:
    """The sentences of a document that answer the question, and where they stand."""

    text: str
    section: str | None  # the heading or 第N条 they come under
    anchor: str  # fragment of the page that opens at them (``p-3``)
    url: str = ""  # the page, opened at the passage
    source: str = ""  # title of the document quoted (a policy or its interpretation)
    doc_number: str | None = None  # 文号 of the policy quoted


@dataclass
class Found:
    """A search's whole answer: the hits, and what the resident should be told
    about how they were found."""

    query: str
    hits: list[Hit] = field(default_factory=list)
    corrected: str | None = None  # the query as corrected ("已按“危房改造”为您查找")
    fallback: str | None = None  # a life event: nothing matched well, these are about it
    intents: list[str] = field(default_factory=list)  # amount, condition, materials …
    passage: Passage | None = None  # for the best hit, when the question asks for a part
    terms: list[tuple[str, float]] = field(
        default_factory=list, repr=False
    )  # query words, weighted
    # Replies made of this answer, by (start, page): a kept answer is formatted once.
    replies: dict[tuple[int, int], tuple[str, int]] = field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def missed(self) -> bool:
        """Nothing found, or only a fallback: staff should see this query."""
        return not self.hits or self.fallback is not None
