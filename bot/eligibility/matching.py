"""Which policies a resident may qualify for, and which residents a policy may reach.

One resident (the chat, the page) is evaluated with ``conditions.holds``. Many
residents are matched column-wise: the consenting residents' answers are
decoded once into NumPy columns (a birth month number, a number, a bit mask
of choice values, a flag, each with a "known" mask), and each policy's rule
becomes a few array operations over all of them, so 1,000 policies against
100,000 residents take seconds (``bench/eligibility.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from tortoise import connections

from bot.catalog.models import Policy, Status, Validity
from bot.catalog.validity import validity_filter
from bot.eligibility.attributes import ATTRIBUTES
from bot.eligibility.conditions import GROUPS, Rule, rule_of

Mask = npt.NDArray[np.bool_]
MAX_CHOICES = 63  # values of one choice attribute that fit a bit mask


async def policies_in_force(today: dt.date) -> list[Policy]:
    """Published, valid today (an ``expires_on`` passed takes a policy out), with eligibility."""
    return list(
        await Policy.filter(
            validity_filter(Validity.valid, today),
            status=Status.published,
            eligibility__isnull=False,
        ).order_by("id")
    )


def _month(day: dt.date) -> int:
    return day.year * 12 + day.month


@dataclass
class Residents:
    """Answers of many residents as columns; row ``i`` is ``openids[i]``."""

    openids: list[str]
    values: dict[str, npt.NDArray[Any]] = field(default_factory=dict)
    known: dict[str, Mask] = field(default_factory=dict)
    bits: dict[str, dict[str, int]] = field(default_factory=dict)  # choice value → bit

    @classmethod
    def of(cls, rows: Iterable[tuple[str, Mapping[str, Any]]]) -> Residents:
        rows = list(rows)
        out = cls([openid for openid, _ in rows])
        n = len(rows)
        for name, attribute in ATTRIBUTES.items():
            sort = attribute.sort
            dtype = np.int64 if sort == "choice" else np.float64 if sort == "range" else np.int8
            out.values[name] = np.zeros(n, dtype=dtype)
            out.known[name] = np.zeros(n, dtype=np.bool_)
            if sort == "choice":
                out.bits[name] = {c: i for i, c in enumerate(attribute.choices)}
        # One pass over the rows, writing plain lists first (NumPy item writes are slow).
        plain: dict[str, list[Any]] = {name: [0] * n for name in ATTRIBUTES}
        known: dict[str, list[bool]] = {name: [False] * n for name in ATTRIBUTES}
        sorts = {name: a.sort for name, a in ATTRIBUTES.items()}
        for i, (_, answers) in enumerate(rows):
            for name, value in answers.items():
                kind = sorts.get(name)
                if kind is None or value is None:
                    continue
                known[name][i] = True
                if kind == "choice":
                    plain[name][i] = out._mask(name, value)
                elif name == "age":
                    plain[name][i] = int(value[:4]) * 12 + int(value[5:7])
                else:
                    plain[name][i] = value
        for name in ATTRIBUTES:
            out.values[name][:] = plain[name]
            out.known[name][:] = known[name]
        return out

    def _mask(self, name: str, values: Iterable[str]) -> int:
        bits, mask = self.bits[name], 0
        for value in values:
            if value not in bits:
                if len(bits) >= MAX_CHOICES:
                    raise ValueError(f"more than {MAX_CHOICES} values of {name}")
                bits[value] = len(bits)
            mask |= 1 << bits[value]
        return mask

    def __len__(self) -> int:
        return len(self.openids)

    def matching(self, rule: Rule, day: dt.date) -> Mask:
        """Rows for which the rule certainly holds on ``day`` (missing answers never match)."""
        return self._eval(rule, day)[0]

    def _eval(self, rule: Rule, day: dt.date) -> tuple[Mask, Mask]:
        """(certainly true, certainly false) for every row."""
        ((key, wanted),) = rule.items()
        if key in GROUPS:
            parts = [self._eval(part, day) for part in wanted]
            trues, falses = [p[0] for p in parts], [p[1] for p in parts]
            if key == "all":
                return np.logical_and.reduce(trues), np.logical_or.reduce(falses)
            return np.logical_or.reduce(trues), np.logical_and.reduce(falses)
        known, column = self.known[key], self.values[key]
        sort = ATTRIBUTES[key].sort
        if sort == "choice":
            want = 0
            for value in wanted:
                if value in self.bits[key]:
                    want |= 1 << self.bits[key][value]
            true = known & ((column & want) != 0)
        elif sort == "flag":
            true = known & (column == int(wanted))
        else:
            number = (_month(day) - column) // 12 if key == "age" else column
            true = known.copy()
            if "min" in wanted:
                true &= number >= wanted["min"]
            if "max" in wanted:
                true &= number <= wanted["max"]
        return true, known & ~true


def matching_openids(
    residents: Residents, eligibility: Mapping[str, Any], day: dt.date
) -> list[str]:
    if not len(residents):
        return []
    rows = np.flatnonzero(residents.matching(rule_of(eligibility), day))
    return [residents.openids[i] for i in rows]


async def consenting_residents() -> Residents:
    """Every consenting resident's answers, decrypted (never logged, never written out)."""
    from bot.eligibility.models import ResidentProfile
    from bot.eligibility.profile import only_known, unseal

    conn = connections.get("default")
    table = ResidentProfile._meta.db_table
    rows = await conn.execute_query_dict(f'SELECT "openid", "data" FROM "{table}"')
    return Residents.of((str(r["openid"]), only_known(unseal(str(r["data"])))) for r in rows)
