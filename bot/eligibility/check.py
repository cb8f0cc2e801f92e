"""One resident's 政策体检: which policies they may qualify for, which need another
answer, and the next question worth asking — the same for the chat and the page.

The next question is the attribute that the most still-undecided policies
name; one that every undecided policy could do without is never asked, and a
question the resident skipped is not asked again.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.catalog.models import Interpretation, Policy, Status
from bot.eligibility.attributes import ATTRIBUTES, AnswerError
from bot.eligibility.conditions import attributes_in, holds, reasons, rule_of
from bot.eligibility.matching import policies_in_force
from bot.push.regions import find_region, known_regions


@dataclass
class Likely:
    """A policy the resident 可能符合, with why."""

    policy: Policy
    why: list[str]
    interpretation: Interpretation | None = None

    @property
    def eligibility(self) -> dict[str, Any]:
        return self.policy.eligibility or {}


@dataclass
class Outcome:
    likely: list[Likely] = field(default_factory=list)
    undecided: list[Policy] = field(default_factory=list)  # need one more answer (or more)
    next_question: str | None = None  # the attribute to ask about next
    ruled_out: int = 0


def assess(
    policies: Iterable[Policy],
    answers: Mapping[str, Any],
    day: dt.date,
    skipped: Iterable[str] = (),
) -> Outcome:
    out = Outcome()
    skipped = set(skipped)
    wanted: Counter[str] = Counter()
    for policy in policies:
        rule = rule_of(policy.eligibility or {})
        verdict = holds(rule, answers, day)
        if verdict is True:
            out.likely.append(Likely(policy, list(dict.fromkeys(reasons(rule, answers, day)))))
        elif verdict is False:
            out.ruled_out += 1
        else:
            out.undecided.append(policy)
            missing = {a for a in attributes_in(rule) if a not in answers and a not in skipped}
            wanted.update(missing)
    if wanted:
        order = list(ATTRIBUTES)
        out.next_question = max(wanted, key=lambda a: (wanted[a], -order.index(a)))
    return out


async def run(answers: Mapping[str, Any], day: dt.date, skipped: Iterable[str] = ()) -> Outcome:
    """Assess against the policies in force, with each likely policy's interpretation."""
    outcome = assess(await policies_in_force(day), answers, day, skipped)
    ids = [item.policy.id for item in outcome.likely]
    if ids:
        first: dict[str, Interpretation] = {}
        for row in await Interpretation.filter(policy_id__in=ids, status=Status.published).order_by(
            "published_on", "id"
        ):
            first.setdefault(row.policy_id, row)  # type: ignore[attr-defined]
        for item in outcome.likely:
            item.interpretation = first.get(item.policy.id)
    return outcome


async def read_answer(attribute: str, answer: str, day: dt.date) -> Any:
    """The stored value of an everyday answer to ``attribute``'s question (``AnswerError``)."""
    if attribute == "town":
        regions = await known_regions()
        found = find_region(answer, regions) if regions else None
        if found:
            return [found]
        return ATTRIBUTES["town"].read(answer, day, tuple(r.name for r in regions))
    return ATTRIBUTES[attribute].read(answer, day)


__all__ = ["AnswerError", "Likely", "Outcome", "assess", "read_answer", "run"]
