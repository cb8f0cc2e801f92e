"""The pages residents open from WeChat: a policy, an interpretation, a row
of the standard disclosure catalog, lists.

Only published documents and catalog rows are shown; a policy lists its
interpretations by form, an interpretation links back to its policy (三同步),
and a replaced policy points to the one that replaces it.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from tortoise import connections
from tortoise.queryset import QuerySet

from bot.catalog import attachments
from bot.catalog.kinds.catalog_item import catalog_title as _catalog_title
from bot.catalog.models import (
    Area,
    CatalogItem,
    Interpretation,
    InterpretationForm,
    Policy,
    Status,
    Topic,
)
from bot.catalog.render import safe_url
from bot.catalog.validity import effective_validity
from bot.keys import SERVICES, SETTINGS
from bot.web import params
from bot.web.modes import render_page, today

PER_PAGE = 20
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RELATED = 5
SEARCH_LIMIT = 200


def not_found(request: web.Request, message: str = "您要找的文件不存在或已撤回。") -> web.Response:
    return render_page(request, "error.html", status=404, title="未找到", message=message)


async def policy_page(request: web.Request) -> web.Response:
    policy = await Policy.get_or_none(id=request.match_info["id"], status=Status.published)
    if policy is None:
        return not_found(request)
    await policy.fetch_related("areas", "topics")
    interps = await Interpretation.filter(policy_id=policy.id, status=Status.published).order_by(
        "published_on", "id"
    )
    groups = [
        (form.value, [i for i in interps if i.form == form])
        for form in InterpretationForm
        if any(i.form == form for i in interps)
    ]
    replacement = None
    if policy.replaced_by:
        replacement = await Policy.get_or_none(id=policy.replaced_by, status=Status.published)
    settings = request.app[SETTINGS]
    return render_page(
        request,
        "policy.html",
        title=policy.title,
        policy=policy,
        validity=effective_validity(policy, today(request)).value,
        areas=list(policy.areas),
        topics=list(policy.topics),
        groups=groups,
        replacement=replacement,
        files=_files(request, policy),
        related=await _related(policy),
        share_url=f"{settings.server.base_url.rstrip('/')}/policies/{policy.id}",
    )


def _files(request: web.Request, policy: Policy) -> list[dict[str, str]]:
    """The policy's attachments that exist, each with the kind its bytes say it is."""
    settings = request.app[SETTINGS]
    out = []
    for item in policy.attachments or []:
        path = attachments.locate(item["file"], settings.content.dir, settings.attachments.dir)
        kind = attachments.read_type(path) if path else None
        if kind:
            out.append({**item, "kind": kind.kind, "url": f"/attachments/{item['file']}"})
    return out


async def _related(policy: Policy) -> list[Policy]:
    """Published policies sharing a topic or an area, those sharing most first, then newest.

    One aggregate over the link tables, so a topic with thousands of policies costs
    one indexed query, not thousands of rows."""
    topics, areas = [t.id for t in policy.topics], [a.id for a in policy.areas]
    if not topics and not areas:
        return []
    conn = connections.get("default")
    marks = iter(range(1, 4 + len(topics) + len(areas)))
    mark = (lambda: f"${next(marks)}") if conn.capabilities.dialect == "postgres" else (lambda: "?")
    links = [
        f'SELECT "policy_id" FROM "{table}" WHERE "{column}" IN ({", ".join(mark() for _ in ids)})'
        for table, column, ids in (("policy_topic", "topic_id", topics), ("policy_area", "area_id", areas))
        if ids
    ]  # fmt: skip
    sql = (
        f'SELECT p."id" FROM ({" UNION ALL ".join(links)}) AS l '
        f'JOIN "policy" AS p ON p."id" = l."policy_id" '
        f'WHERE p."status" = {mark()} AND p."id" <> {mark()} '
        f'GROUP BY p."id", p."written_on" ORDER BY COUNT(*) DESC, p."written_on" DESC, p."id" '
        f"LIMIT {RELATED}"
    )
    _, rows = await conn.execute_query(sql, [*topics, *areas, Status.published.value, policy.id])
    ids = [str(row["id"]) for row in rows]
    found = {p.id: p for p in await Policy.filter(id__in=ids)}
    return [found[i] for i in ids if i in found]


async def interpretation_page(request: web.Request) -> web.Response:
    interp = await Interpretation.get_or_none(id=request.match_info["id"], status=Status.published)
    policy = interp and await Policy.get_or_none(id=interp.policy_id, status=Status.published)  # type: ignore[attr-defined]
    if interp is None or policy is None:
        return not_found(request)
    return render_page(
        request,
        "interpretation.html",
        title=interp.title,
        interp=interp,
        policy=policy,
        media_url=safe_url(interp.media_url),
    )


CATALOG_LABELS = [  # (field, label) in the order of the standard catalog's columns
    ("level1", "一级事项"),
    ("level2", "二级事项"),
    ("content", "公开内容"),
    ("basis", "公开依据"),
    ("time_limit", "公开时限"),
    ("subject", "公开主体"),
    ("channel", "公开渠道和载体"),
    ("audience", "公开对象"),
    ("method", "公开方式"),
]


def catalog_title(item: CatalogItem) -> str:
    return _catalog_title({"level1": item.level1, "level2": item.level2})


async def catalog_item_page(request: web.Request) -> web.Response:
    item = await CatalogItem.get_or_none(
        id=params.path_id(request, what="公开事项"), published=True
    )
    if item is None:
        return not_found(request, "没有这个公开事项。")
    # The CSV names the area in words, its own name or one of its aliases.
    area = next(
        (a for a in await Area.all() if item.area == a.name or item.area in (a.aliases or [])),
        None,
    )
    rows = [(label, getattr(item, name)) for name, label in CATALOG_LABELS if getattr(item, name)]
    return render_page(
        request,
        "catalog_item.html",
        title=catalog_title(item),
        rows=rows,
        area_name=item.area,
        area=area,
    )


async def _list(
    request: web.Request,
    query: QuerySet[Policy],
    title: str,
    ranked: list[str] | None = None,
    **extra: Any,
) -> web.Response:
    """A page of ``query``, newest first, or in the order of ``ranked`` ids (search hits)."""
    page = params.integer(request, "page", 1, 1, params.MAX_PAGE)
    if ranked is None:
        total = await query.count()
        rows = (
            await query.order_by("-written_on", "id").offset((page - 1) * PER_PAGE).limit(PER_PAGE)
        )
    else:
        # The index holds published documents only: fetch just this page's rows.
        shown = ranked[(page - 1) * PER_PAGE : page * PER_PAGE]
        found = {p.id: p for p in await query.filter(id__in=shown)}
        total, rows = len(ranked), [found[i] for i in shown if i in found]
    counts: dict[str, int] = {}
    for pid in await Interpretation.filter(
        policy_id__in=[p.id for p in rows], status=Status.published
    ).values_list("policy_id", flat=True):
        counts[str(pid)] = counts.get(str(pid), 0) + 1
    day = today(request)
    items = [
        {
            "id": p.id,
            "title": p.title,
            "doc_number": p.doc_number,
            "published_on": p.published_on,
            "written_on": p.written_on,
            "effective": effective_validity(p, day).value,
            "interp_count": counts.get(p.id, 0),
        }
        for p in rows
    ]
    return render_page(
        request,
        "list.html",
        title=title,
        items=items,
        page=page,
        pages=max(1, math.ceil(total / PER_PAGE)),
        total=total,
        path=request.path,
        **extra,
    )


async def policies_page(request: web.Request) -> web.Response:
    published = Policy.filter(status=Status.published)
    areas = await Area.filter(policies__status=Status.published).distinct().order_by("position")
    q = request.query.get("q", "").strip()
    ranked = await _search(request, q) if q else None
    return await _list(
        request,
        published,
        f"“{q}”的搜索结果" if q else "政策文件",
        ranked=ranked,
        intro="" if q else "青山县最新发布的政策文件及其解读。",
        topics=await Topic.all(),
        areas=areas,
        q=q,
    )


async def _search(request: web.Request, q: str) -> list[str]:
    """Policy ids for ``q`` through the search index, best first; an interpretation
    or a catalog hit stands for nothing, its policy is listed in its place."""
    hits = await request.app[SERVICES].search.search(q, limit=SEARCH_LIMIT)
    interp_ids = [h.id for h in hits if h.kind == "interpretation"]
    owners = dict(await Interpretation.filter(id__in=interp_ids).values_list("id", "policy_id"))
    ranked: list[str] = []
    for hit in hits:
        pid = hit.id if hit.kind == "policy" else owners.get(hit.id)
        if pid and str(pid) not in ranked:
            ranked.append(str(pid))
    return ranked


async def area_page(request: web.Request) -> web.Response:
    area = await Area.get_or_none(id=request.match_info["id"])
    if area is None:
        return not_found(request, "没有这个领域。")
    query = Policy.filter(status=Status.published, areas__id=area.id)
    catalog = await CatalogItem.filter(
        published=True, area__in=[area.name, *(area.aliases or [])]
    ).order_by("source_path", "source_line", "id")
    return await _list(
        request,
        query,
        f"{area.name}领域政策",
        intro=f"“{area.name}”领域公开的政策文件。",
        catalog=[
            {"id": c.id, "title": catalog_title(c), "time_limit": c.time_limit} for c in catalog
        ],
    )


async def topic_page(request: web.Request) -> web.Response:
    topic = await Topic.get_or_none(id=request.match_info["id"])
    if topic is None:
        return not_found(request, "没有这个主题。")
    query = Policy.filter(status=Status.published, topics__id=topic.id)
    intro = f"与“{topic.name}”有关的政策。在公众号发送“订阅 {topic.name}”，新政策发布时会推送给您。"
    return await _list(request, query, f"{topic.name}相关政策", intro=intro)


# The page of each content kind (bot.catalog.kinds), routed at the path the kind declares.
KIND_PAGES: dict[str, Handler] = {
    "policy": policy_page,
    "interpretation": interpretation_page,
    "catalog_item": catalog_item_page,
}
