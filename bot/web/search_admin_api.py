"""Admin API for what residents could not find: the misses by frequency, and
the synonyms and keywords staff add to fix them (``bot.search.rules``)."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from bot.config import Role
from bot.search import rules
from bot.search.models import SearchMiss, SearchRule
from bot.web.auth import actor, require_role
from bot.web.errors import api_error
from bot.web.openapi import document
from bot.web.responses import json_response

PREFIX = "/api/v1/admin/search"
ROLES = (Role.publisher, Role.editor, Role.reviewer)  # admin may always
MAX_PER_PAGE = 200


def miss_json(miss: SearchMiss) -> dict[str, Any]:
    return {
        "id": miss.id,
        "query": miss.query,
        "kind": miss.kind.value,
        "count": miss.count,
        "first_seen": miss.first_seen.isoformat(),
        "last_seen": miss.last_seen.isoformat(),
        "resolved_by": miss.resolved_by,
    }


def rule_json(rule: SearchRule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "word": rule.word,
        "terms": rule.terms,
        "doc_kind": rule.doc_kind,
        "doc_id": rule.doc_id,
        "created_by": rule.created_by,
        "created_at": rule.created_at.isoformat(),
    }


def _positive(value: str | None, default: int, high: int) -> int:
    if not value:
        return default
    if not value.isdigit() or not 1 <= int(value) <= high:
        raise api_error(400, f"应为 1 到 {high} 之间的整数：{value[:20]}")
    return int(value)


@document(
    params={"page": "页码", "per_page": "每页条数（≤200）", "all": "1 = 含已处理的"},
    response="Object",
)
async def list_misses(request: web.Request) -> web.Response:
    """Queries that found nothing or only a fallback, most frequent first (no openid)."""
    require_role(request, *ROLES)
    page = _positive(request.query.get("page"), 1, 10**6)
    per_page = _positive(request.query.get("per_page"), 50, MAX_PER_PAGE)
    total, items = await rules.list_misses(page, per_page, request.query.get("all") == "1")
    return json_response({"total": total, "items": [miss_json(m) for m in items]})


@document(response="Object")
async def list_rules(request: web.Request) -> web.Response:
    """Every synonym and keyword staff added."""
    require_role(request, *ROLES)
    return json_response({"items": [rule_json(r) for r in await rules.all_rules()]})


@document(body="SearchRule", response="Object")
async def create_rule(request: web.Request) -> web.Response:
    """Add a synonym (``word`` + ``terms``) or a document keyword (``word`` +
    ``doc_kind`` + ``doc_id``); every process uses it within a second."""
    token = require_role(request, *ROLES)
    try:
        body = orjson.loads(await request.read() or b"{}")
    except orjson.JSONDecodeError:
        raise api_error(400, "请求体不是有效的 JSON") from None
    if not isinstance(body, dict):
        raise api_error(400, "请求体应为 JSON 对象")
    miss = body.get("miss_id")
    miss_id = miss if isinstance(miss, int) else None
    if body.get("doc_id") is not None:
        rule = await rules.add_keyword(
            body.get("word"), body.get("doc_kind", "policy"), body["doc_id"], actor(token), miss_id
        )
    else:
        rule = await rules.add_synonym(body.get("word"), body.get("terms"), actor(token), miss_id)
    return json_response(rule_json(rule), status=201)


@document(response="Object")
async def delete_rule(request: web.Request) -> web.Response:
    """Remove a synonym or keyword."""
    token = require_role(request, *ROLES)
    raw = request.match_info["id"]
    if not raw.isdigit() or len(raw) > 9:
        raise api_error(404, "没有这条检索规则")
    await rules.delete_rule(int(raw), actor(token))
    return json_response({"id": int(raw), "deleted": True})
