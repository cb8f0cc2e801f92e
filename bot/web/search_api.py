"""GET /api/v1/search?q=&limit= — the keyword search as open JSON.

Results come best first. A policy is followed by its published
interpretations (grouped with it, and sharing its score, so the list stays
ordered); ``limit`` bounds the number of results returned.
"""

from __future__ import annotations

from aiohttp import web

from bot.keys import SERVICES
from bot.search import Hit
from bot.web import params
from bot.web.errors import json_error
from bot.web.openapi import document
from bot.web.responses import json_response

MAX_QUERY_CHARS = 200
DEFAULT_LIMIT = 10
MAX_LIMIT = 50


def _flatten(hits: list[Hit], limit: int) -> list[dict]:
    results: list[dict] = []
    for hit in hits:
        results.append(hit.to_json())
        for interp_id, (title, url, _form) in zip(
            hit.interpretation_ids, hit.interpretations, strict=False
        ):  # a policy's interpretations, grouped with it
            results.append(
                {
                    "kind": "interpretation",
                    "id": interp_id,
                    "title": title,
                    "url": url,
                    "score": round(hit.score, 4),
                }
            )
    return results[:limit]


@document(
    params={"q": "查询词（必填，如“低保怎么申请”或文号）", "limit": "返回条数，1–50，默认 10"},
    response="SearchResults",
)
async def search_api(request: web.Request) -> web.Response:
    """Keyword search of published policies, interpretations and catalog items, best first."""
    query = request.query.get("q", "").strip()
    if not query:
        return json_error(400, "缺少查询参数 q", "missing_query")
    if len(query) > MAX_QUERY_CHARS:
        return json_error(400, f"查询词不能超过 {MAX_QUERY_CHARS} 个字符", "query_too_long")
    limit = params.integer(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    hits = await request.app[SERVICES].search.search(query, limit=limit)
    return json_response({"query": query, "results": _flatten(hits, limit)})
