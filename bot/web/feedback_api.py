"""Admin API for residents' 留言: HTTP glue over ``bot.feedback.answers``."""

from __future__ import annotations

from aiohttp import web

from bot.feedback.answers import (
    ANSWER_ROLES,
    MAX_PER_PAGE,
    READ_ROLES,
    REASONS,
    answer_feedback,
    list_feedback,
    to_json,
)
from bot.keys import SERVICES
from bot.models import FeedbackStatus
from bot.web import params
from bot.web.auth import actor, require_role
from bot.web.errors import api_error
from bot.web.openapi import document
from bot.web.responses import json_response


@document(params={"status": "new、answered 或 closed", "page": "页码", "per_page": "每页条数（≤100）"},
          response="Object")  # fmt: skip
async def get_feedback(request: web.Request) -> web.Response:
    """Residents' 留言, newest first (any admin role); ID and phone numbers are masked
    for roles that do not answer 留言."""
    token = require_role(request, *READ_ROLES)
    status = params.choice(request, "status", FeedbackStatus)
    page, per_page = params.paging(request, 20, MAX_PER_PAGE)
    total, items = await list_feedback(status, page, per_page)
    return json_response(
        {
            "total": total,
            "page": page,
            "per_page": per_page,
            "items": [to_json(f, token.role) for f in items],
        }
    )


@document(body="AnswerBody", response="Object")
async def post_answer(request: web.Request) -> web.Response:
    """Answer a 留言 (editor, reviewer); says whether WeChat delivered it to the resident."""
    token = require_role(request, *ANSWER_ROLES)
    feedback_id = params.path_id(request, what="留言")
    try:
        body = await request.json()
    except ValueError:
        raise api_error(400, '请求体应为 JSON 对象：{"answer": "…"}') from None
    answer = body.get("answer") if isinstance(body, dict) else None
    if not isinstance(answer, str):
        raise api_error(422, "answer 应为文本")
    outcome = await answer_feedback(request.app[SERVICES], feedback_id, answer, actor(token))
    return json_response({
        **to_json(outcome.feedback, token.role),
        "delivered": outcome.delivered,
        "reason": outcome.reason,
        "reason_text": REASONS.get(outcome.reason or ""),
        "errcode": outcome.errcode,
    })  # fmt: skip
