"""Search quality over a gold set: recall@3, MRR@5, and how often the queries
that must find nothing do find nothing. Used by ``bench/search_quality.py``
and the quality test; also prints the score distributions the "nothing
found" threshold is chosen from (``bot.search.ranking``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.catalog.models import CatalogItem
from bot.search import SearchIndex, ranking
from bot.search.ranking import THRESHOLD, best_groups


@dataclass
class GoldQuery:
    q: str
    kind: str
    expect: list[str]
    answer: str | None = None  # text the quoted passage must contain


@dataclass
class Outcome:
    query: GoldQuery
    got: list[str]  # result ids, best first (a policy's interpretations count as it)
    rank: int | None  # 1-based rank of the first right answer
    best_coverage: float  # coverage of the best group, before any cut
    right_coverage: float | None  # coverage of the best right answer, before any cut


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    def _answerable(self, kind: str | None = None) -> list[Outcome]:
        return [o for o in self.outcomes if o.query.expect and kind in (None, o.query.kind)]

    def recall_at(self, k: int, kind: str | None = None) -> float:
        rows = self._answerable(kind)
        return sum(1 for o in rows if o.rank is not None and o.rank <= k) / max(len(rows), 1)

    def mrr_at(self, k: int, kind: str | None = None) -> float:
        rows = self._answerable(kind)
        return sum(1 / o.rank for o in rows if o.rank is not None and o.rank <= k) / max(
            len(rows), 1
        )

    @property
    def nothing_share(self) -> float:
        rows = [o for o in self.outcomes if not o.query.expect]
        return sum(1 for o in rows if not o.got) / max(len(rows), 1)

    @property
    def kinds(self) -> list[str]:
        return sorted({o.query.kind for o in self.outcomes})

    def failures(self) -> list[Outcome]:
        return [
            o
            for o in self.outcomes
            if (o.query.expect and (o.rank is None or o.rank > 3)) or (not o.query.expect and o.got)
        ]


def load_gold(path: Path) -> list[GoldQuery]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        GoldQuery(
            str(d["q"]),
            str(d["kind"]),
            [str(x) for x in d.get("expect") or []],
            str(d["answer"]) if d.get("answer") else None,
        )
        for d in data
    ]


async def passage_outcomes(
    search: SearchIndex, gold: list[GoldQuery]
) -> list[tuple[GoldQuery, str | None]]:
    """For every query with an ``answer``: the passage the chat reply would quote."""
    out = []
    for g in gold:
        if g.answer:
            found = await search.find(g.q)
            out.append((g, found.passage.text if found.passage else None))
    return out


def describe_passages(outcomes: list[tuple[GoldQuery, str | None]], verbose: bool) -> str:
    if not outcomes:
        return "passages: no query with an expected answer"
    right = [g for g, text in outcomes if text and g.answer and g.answer in text]
    lines = [f"passage contains the answer: {len(right) / len(outcomes):.3f} "
             f"({len(right)}/{len(outcomes)}, target ≥ 0.80)"]  # fmt: skip
    if verbose:
        for g, text in outcomes:
            if g not in right:
                lines.append(f"  {g.q}: wanted {g.answer!r}, quoted {text!r}")
    return "\n".join(lines)


async def catalog_ids() -> dict[str, str]:
    """``catalog:<csv stem>#<序号>`` → catalog item id."""
    out = {}
    for item_id, path, seq in await CatalogItem.all().values_list("id", "source_path", "seq"):
        out[f"catalog:{Path(path).stem}#{seq}"] = str(item_id)
    return out


def _aliases(index: Any, slot: int) -> set[str]:
    """Ids a group answers for: itself and, for a policy, its interpretations."""
    info = index.infos[slot]
    ids = {info.id}
    if info.kind == "policy":
        ids |= {
            index.infos[s].id for s in index.interpretations_of.get(info.id, ()) if index.infos[s]
        }
    return ids


def evaluate(
    search: SearchIndex,
    gold: list[GoldQuery],
    catalog: dict[str, str],
    threshold: float = THRESHOLD,
) -> Report:
    index = search.index
    assert index is not None
    report = Report()
    for g in gold:
        expected = {catalog.get(e, e) for e in g.expect}
        missing = [e for e in g.expect if e.startswith("catalog:") and e not in catalog]
        if missing:
            raise ValueError(f"gold query {g.q!r}: unknown catalog rows {missing}")
        if threshold == THRESHOLD:
            found = search.find_sync(g.q, 5)
            hits = [] if found.fallback else found.hits
        else:
            hits = ranking.rank(index, index.plan(g.q), 5, search.base_url, threshold)
        got, rank = [], None
        for position, hit in enumerate(hits, start=1):
            ids = {hit.id, *hit.interpretation_ids}
            got.append(hit.id)
            if rank is None and ids & expected:
                rank = position
        groups = best_groups(index, index.plan(g.q))
        best = groups[0][2] if groups else 0.0
        right = next((cov for slot, _s, cov in groups if _aliases(index, slot) & expected), None)
        report.outcomes.append(Outcome(g, got, rank, best, right))
    return report


def sweep(search: SearchIndex, gold: list[GoldQuery], catalog: dict[str, str]) -> str:
    """recall@3, MRR@5 and nothing-share as the threshold moves: the data the
    threshold in ``bot.search.ranking`` is chosen from."""
    lines = [f"{'threshold':>10}{'recall@3':>10}{'MRR@5':>8}{'nothing':>9}"]
    for step in range(0, 13):
        t = 0.15 + 0.025 * step
        r = evaluate(search, gold, catalog, t)
        mark = "  ← chosen" if abs(t - THRESHOLD) < 1e-9 else ""
        lines.append(
            f"{t:>10.3f}{r.recall_at(3):>10.3f}{r.mrr_at(5):>8.3f}{r.nothing_share:>9.3f}{mark}"
        )
    return "\n".join(lines)


def _percentiles(values: list[float]) -> str:
    if not values:
        return "-"
    v = sorted(values)

    def pct(p: float) -> float:
        return v[min(len(v) - 1, max(0, round(p / 100 * (len(v) - 1))))]

    return (
        f"n={len(v):3d} min={v[0]:.2f} p5={pct(5):.2f} p25={pct(25):.2f} "
        f"median={pct(50):.2f} p75={pct(75):.2f} p95={pct(95):.2f} max={v[-1]:.2f}"
    )


def describe(report: Report, verbose: bool = True) -> str:
    lines = []
    lines.append(
        f"queries: {len(report.outcomes)} "
        f"(answerable {len(report._answerable())}, must find nothing "
        f"{len(report.outcomes) - len(report._answerable())})"
    )
    lines.append(f"recall@3      {report.recall_at(3):.3f}   (target ≥ 0.90)")
    lines.append(f"MRR@5         {report.mrr_at(5):.3f}   (target ≥ 0.80)")
    lines.append(f"nothing-share {report.nothing_share:.3f}   (target ≥ 0.90)")
    lines.append("")
    lines.append(f"{'kind':<14}{'n':>4}{'recall@3':>10}{'MRR@5':>8}")
    by_kind: dict[str, int] = defaultdict(int)
    for o in report.outcomes:
        by_kind[o.query.kind] += 1
    for kind in report.kinds:
        if kind == "nothing":
            lines.append(
                f"{kind:<14}{by_kind[kind]:>4}{'':>10}{'':>8}  answered with nothing: "
                f"{report.nothing_share:.3f}"
            )
        else:
            lines.append(
                f"{kind:<14}{by_kind[kind]:>4}{report.recall_at(3, kind):>10.3f}"
                f"{report.mrr_at(5, kind):>8.3f}"
            )
    lines.append("")
    lines.append("best coverage per query (what the threshold sees):")
    lines.append(
        "  answerable, right answer's coverage: "
        + _percentiles(
            [
                o.right_coverage
                for o in report.outcomes
                if o.query.expect and o.right_coverage is not None
            ]
        )
    )
    lines.append(
        "  answerable, best coverage:           "
        + _percentiles([o.best_coverage for o in report.outcomes if o.query.expect])
    )
    lines.append(
        "  must find nothing, best coverage:    "
        + _percentiles([o.best_coverage for o in report.outcomes if not o.query.expect])
    )
    if verbose and report.failures():
        lines.append("")
        lines.append("misses (expected → got):")
        for o in report.failures():
            lines.append(
                f"  [{o.query.kind}] {o.query.q}: {o.query.expect} → {o.got[:5]} "
                f"(best {o.best_coverage:.2f}, right {o.right_coverage if o.right_coverage is None else round(o.right_coverage, 2)})"
            )
    return "\n".join(lines)
