"""From slot scores to the hits a resident sees: group, filter, cut.

* An interpretation joins its policy's group (the group scores the better of
  the two); it stands alone only when its policy is not published.
* A lapsed or repealed policy carries its replacement.
* The "nothing found" rule. A group is shown only if its coverage (the share
  of the query's idf-weighted words it answers, see ``bot.search.index``) is
  at least ``THRESHOLD``, and its score at least ``RELATIVE`` of the best
  group's, so a strong answer is not followed by a tail of weak ones.

  ``THRESHOLD`` was chosen from data: ``bench/search_quality.py`` prints the
  best coverage of answerable and of must-find-nothing queries and sweeps the
  threshold. On the sample gold set (170 queries) the answerable queries'
  best coverage has p5 0.55 and minimum 0.36; the must-find-nothing ones p95
  0.29 and maximum 0.34 (what they match is filler such as 申请 or 补贴;
  their unmatched words carry the idf). On the second set
  (``tests/search/second_set``: other content, 61 queries) answerable p5 is
  0.35 (minimum 0.33), must-find-nothing p95 0.16. The sweep keeps recall@3
  flat from 0.15 to 0.35 on the first set while the nothing share climbs to
  0.97 at 0.30 (1.00 at 0.35); on the second set recall@3 is 1.00 up to
  0.275, 0.98 at 0.30 and 0.96 at 0.35. Over both sets 0.275 and 0.30 make
  the fewest mistakes (four); 0.30 sits nearer the middle of the gap between
  the two distributions, so it is the safer choice on content not seen yet.
  ``RELATIVE`` = 0.5 keeps results within half the best score.
"""

from __future__ import annotations

import numpy as np

from bot.catalog.kinds import kind
from bot.search.hits import Hit
from bot.search.index import DocInfo, InvertedIndex, QueryPlan

THRESHOLD = 0.30
FALLBACK_COVERAGE = 0.10  # a fallback hit answers at least this much of the query
FALLBACK_LIMIT = 3
RELATIVE = 0.5
CANDIDATES = 60  # slots looked at before grouping
CATALOG_PER_AREA = 2  # catalog rows of one area in a result list; more would crowd out documents

_FORM_ORDER = {"文字解读": 0, "图解": 1, "图片解读": 2, "视频解读": 3, "访谈解读": 4, "媒体报道": 5}


def _url(base_url: str, info: DocInfo) -> str:
    return kind(info.kind).url(base_url, info.id)


def _hit(info: DocInfo, score: float, base_url: str) -> Hit:
    return Hit(
        kind=info.kind,
        id=info.id,
        title=info.title,
        url=_url(base_url, info),
        score=float(score),
        doc_number=info.doc_number,
        date=info.date,
        validity=info.validity,
        form=info.form,
        area=info.area,
        policy_id=info.policy_id,
    )


def best_groups(index: InvertedIndex, plan: QueryPlan) -> list[tuple[int, float, float]]:
    """(leading slot, score, coverage) per group, best first, before any cut."""
    if plan.empty or index.n_slots == 0:
        return []
    coverage, final = index.score(plan)
    k = min(CANDIDATES, len(final))
    top = np.argpartition(-final, k - 1)[:k] if k < len(final) else np.arange(len(final))
    top = top[np.argsort(-final[top], kind="stable")]
    groups: dict[int, tuple[float, float, str]] = {}  # lead slot → score, coverage, id
    for slot in top.tolist():
        score = float(final[slot])
        if score <= 0:
            break
        info = index.infos[slot]  # read once: a loaded snapshot decodes it each time
        if info is None:
            continue
        lead, lead_id = slot, info.id
        cov = float(coverage[slot])
        if info.kind == "interpretation" and info.policy_id:
            policy_slot = index.slot_of.get(("policy", info.policy_id))
            if policy_slot is not None:
                lead, lead_id = policy_slot, info.policy_id
                score = max(score, float(final[policy_slot]))
                cov = max(cov, float(coverage[policy_slot]))
        old = groups.get(lead)
        if old is None or old[0] < score:
            groups[lead] = (score, max(cov, old[1] if old else 0.0), lead_id)
    # Ties break on the id, so every database and process ranks alike.
    ordered = sorted(groups.items(), key=lambda g: (-round(g[1][0], 6), g[1][2]))
    return [(slot, score, cov) for slot, (score, cov, _id) in ordered]


def rank(
    index: InvertedIndex, plan: QueryPlan, limit: int, base_url: str, threshold: float = THRESHOLD
) -> list[Hit]:
    groups = best_groups(index, plan)
    if not groups or groups[0][2] < threshold:
        return []
    best = groups[0][1]
    hits = []
    per_area: dict[str, int] = {}
    for slot, score, cov in groups:
        if cov < threshold or score < RELATIVE * best:
            continue
        info = index.infos[slot]
        assert info is not None
        if info.kind == "catalog_item":
            per_area[info.area or ""] = per_area.get(info.area or "", 0) + 1
            if per_area[info.area or ""] > CATALOG_PER_AREA:
                continue
        hit = _hit(info, score, base_url)
        if info.kind == "policy":
            _attach_interpretations(index, hit, base_url)
            if info.replaced_by:
                hit.replaced_by = _replacement(index, info.replaced_by, base_url)
        hits.append(hit)
        if len(hits) >= limit:
            break
    return hits


def _attach_interpretations(index: InvertedIndex, hit: Hit, base_url: str) -> None:
    infos = [index.infos[s] for s in index.interpretations_of.get(hit.id, ())]
    alive = [i for i in infos if i is not None and index.slot_of.get(i.key) is not None]
    alive.sort(key=lambda i: (_FORM_ORDER.get(i.form or "", 9), i.date or "", i.id))
    hit.interpretations = [(i.title, _url(base_url, i), i.form or "") for i in alive]
    hit.interpretation_ids = [i.id for i in alive]


def _replacement(index: InvertedIndex, policy_id: str, base_url: str) -> Hit | str:
    slot = index.slot_of.get(("policy", policy_id))
    info = index.infos[slot] if slot is not None else None
    if info is None:
        return policy_id
    hit = _hit(info, 0.0, base_url)
    _attach_interpretations(index, hit, base_url)
    return hit


def fallback(index: InvertedIndex, plan: QueryPlan, base_url: str) -> list[Hit]:
    """When nothing passes the threshold but the query names a life event: the
    documents that best match the event's words, weak as the match is."""
    related = [c for c in plan.concepts if len(c.alternatives) > 1 and c.weight >= 1.0]
    if not plan.events or not related:
        return []
    about = QueryPlan(text=plan.text, concepts=related)
    strong = {slot for slot, _s, cov in best_groups(index, about) if cov > 0}
    hits = []
    for slot, score, cov in best_groups(index, plan):
        info = index.infos[slot]
        if cov < FALLBACK_COVERAGE or slot not in strong or info is None:
            continue
        if info.kind == "policy" and info.validity not in (None, "有效"):
            continue
        hit = _hit(info, score, base_url)
        if info.kind == "policy":
            _attach_interpretations(index, hit, base_url)
        hits.append(hit)
        if len(hits) >= FALLBACK_LIMIT:
            break
    return hits
