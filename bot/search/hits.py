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
