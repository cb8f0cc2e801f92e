"""Open data: the published catalog as JSON for the public and auditors.

Only published documents appear; ``validity`` is the effective one (an
expired ``expires_on`` reads 失效). Filters: area (id or name), topic,
issuer, validity, published_from/published_to; pagination with page and
per_page. Responses carry ``Access-Control-Allow-Origin: *`` so that anyone
may build on them.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from tortoise.expressions import Q

from bot.catalog.kinds import kind
from bot.catalog.models import Area, Policy, Status, Topic, Validity
from bot.catalog.validity import current_version, validity_filter
from bot.keys import SETTINGS
from bot.web import params
from bot.web.errors import api_error
from bot.web.modes import today
from bot.web.openapi import document
from bot.web.responses import json_response

MAX_PER_PAGE = 100
_OPEN = {"Access-Control-Allow-Origin": "*"}


def _json(data: Any) -> web.Response:
    return json_response(data, headers=_OPEN)


def _base(request: web.Request) -> str:
    return request.app[SETTINGS].server.base_url


def _url(request: web.Request, path: str) -> str:
    return _base(request) + path


@document(
    params={
        "area": "领域 id 或名称",
        "topic": "主题 id",
        "issuer": "发布机构（完全匹配）",
        "validity": "有效性：有效、失效或废止",
        "published_from": "发布日期不早于（YYYY-MM-DD）",
        "published_to": "发布日期不晚于（YYYY-MM-DD）",
        "page": "页码，从 1 开始",
        "per_page": f"每页条数，最多 {MAX_PER_PAGE}",
    },
    response="PolicyPage",
)
async def list_policies(request: web.Request) -> web.Response:
    """Published policies, newest first, filtered and paginated."""
    q = request.query
    day = today(request)
    page, per_page = params.paging(request, 20, MAX_PER_PAGE)
    query = Policy.filter(status=Status.published)
    if area := q.get("area"):
        found = await Area.filter(Q(id=area) | Q(name=area)).first()
        query = query.filter(areas__id=found.id if found else "")
    if topic := q.get("topic"):
        query = query.filter(topics__id=topic)
    if issuer := q.get("issuer"):
        query = query.filter(issuer=issuer)
    if validity := params.choice(request, "validity", Validity):
        query = query.filter(validity_filter(validity, day))
    if start := params.date(request, "published_from"):
        query = query.filter(published_on__gte=start)
    if end := params.date(request, "published_to"):
        query = query.filter(published_on__lte=end)
    total = await query.count()
    rows = await query.order_by("-written_on", "id").offset((page - 1) * per_page).limit(per_page)
    items = await kind("policy").json(rows, _base(request), day)
    return _json({"total": total, "page": page, "per_page": per_page, "items": items})


@document(response="PolicyDetail")
async def get_policy(request: web.Request) -> web.Response:
    """One published policy with its body (sanitised HTML) and interpretations."""
    policy = await Policy.get_or_none(id=request.match_info["id"], status=Status.published)
    if policy is None:
        raise api_error(404, "没有这个政策，或已撤回")
    (data,) = await kind("policy").json([policy], _base(request), today(request))
    data["body_html"] = policy.body_html
    data["current_version"] = (await current_version(policy)).id
    return _json(data)


@document(response="TopicList")
async def list_topics(request: web.Request) -> web.Response:
    """Subscribable topics."""
    topics = await Topic.all()
    return _json(
        {
            "items": [
                {
                    "id": t.id,
                    "name": t.name,
                    "aliases": t.aliases,
                    "areas": t.areas,
                    "url": _url(request, f"/topics/{t.id}"),
                }
                for t in topics
            ]
        }
    )


@document(response="AreaList")
async def list_areas(request: web.Request) -> web.Response:
    """The pilot areas of the standard disclosure catalog."""
    areas = await Area.all()
    return _json(
        {
            "items": [
                {
                    "id": a.id,
                    "name": a.name,
                    "aliases": a.aliases,
                    "url": _url(request, f"/areas/{a.id}"),
                }
                for a in areas
            ]
        }
    )
