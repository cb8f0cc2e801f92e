"""Admin API, publishing part: drafts, review, publication, the audit trail, deadlines.

HTTP glue only: roles are checked with ``require_role``, the workflow lives
in ``bot.catalog.publishing``. Publishers write and submit; reviewers
publish, reject or withdraw; ``admin`` may do everything; any valid token
may read drafts, the audit trail and the deadline report.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from aiohttp import web

from bot.catalog import publishing
from bot.catalog.deadlines import AT_RISK_WORKING_DAYS, deadline_report, stored_calendar
from bot.catalog.models import Interpretation, Policy, Status
from bot.config import Role
from bot.keys import SERVICES, SETTINGS
from bot.models import AuditEntry
from bot.search import announce_change
from bot.web import params
from bot.web.auth import actor, require_role
from bot.web.errors import api_error
from bot.web.modes import today
from bot.web.openapi import document
from bot.web.responses import json_response

log = logging.getLogger("bot.publishing")
MAX_PER_PAGE = 100


async def _body(request: web.Request) -> Any:
    try:
        return orjson.loads(await request.read() or b"{}")
    except orjson.JSONDecodeError:
        raise api_error(400, "请求体不是有效的 JSON") from None


async def refresh_search(request: web.Request) -> None:
    """Residents should find (or stop finding) the document at once, in every process."""
    services = request.app[SERVICES]
    await services.search.refresh()
    await announce_change(services.redis)


async def _draft_json(policy: Policy) -> dict[str, Any]:
    """The working version when there is one (what is being written or reviewed), else the rows."""
    await policy.fetch_related("areas", "topics")
    rows = await Interpretation.filter(policy_id=policy.id).order_by("id")
    working = await publishing.working_version(policy.id)
    data: dict[str, Any] = {
        "id": policy.id,
        "title": policy.title,
        "status": policy.status.value,
        "issuer": policy.issuer,
        "written_on": policy.written_on.isoformat(),
        "published_on": policy.published_on.isoformat() if policy.published_on else None,
        "doc_number": policy.doc_number,
        "index_number": policy.index_number,
        "validity": policy.validity.value,
        "requires_interpretation": policy.requires_interpretation,
        "areas": [a.name for a in policy.areas],
        "topics": [t.id for t in policy.topics],
        "managed_by_content": bool(policy.source_path),
        "source_path": policy.source_path,
        "published_version": policy.version,
        "published_at": policy.published_at.isoformat() if policy.published_at else None,
        "interpretations": [
            {"id": i.id, "title": i.title, "form": i.form.value, "status": i.status.value}
            for i in rows
        ],
        "version": None,
    }
    if working is not None:
        snap = working.snapshot
        data.update({key: snap.get(key) for key in ("title", "issuer", "written_on",
                     "published_on", "doc_number", "index_number", "validity",
                     "requires_interpretation", "areas", "topics")})  # fmt: skip
        data["interpretations"] = [
            {"id": i["id"], "title": i["title"], "form": i["form"], "status": working.state.value}
            for i in snap.get("interpretations", [])
        ]
        data["version"] = {
            "number": working.number,
            "state": working.state.value,
            "version_hash": working.content_hash,
            "authors": working.authors,
            "submitted_by": working.submitted_by,
            "sent_back_reason": working.sent_back_reason,
            "sent_back_by": working.sent_back_by,
        }
    return data


async def _run(coro: Any, status: int = 200) -> web.Response:
    policy = await coro
    return json_response(await _draft_json(policy), status=status)


@document(
    params={"status": "draft、review、published 或 unpublished", "page": "页码"}, response="Object"
)
async def list_drafts(request: web.Request) -> web.Response:
    """Policies by workflow status (default: waiting for review)."""
    require_role(request)
    status = params.choice(request, "status", Status) or Status.review
    page = params.integer(request, "page", 1, 1, params.MAX_PAGE)
    total, rows = await publishing.list_by_state(status, 50, (page - 1) * 50)
    items = [{"id": p.id, "title": p.title, "status": p.status.value} for p in rows]
    return json_response({"total": total, "page": page, "items": items})


@document(body="PolicyBody", response="Object")
async def create_policy(request: web.Request) -> web.Response:
    """Create a policy draft, with its interpretations (publisher)."""
    token = require_role(request, Role.publisher)
    return await _run(publishing.create_policy(await _body(request), actor(token)), status=201)


@document(response="Object")
async def get_draft(request: web.Request) -> web.Response:
    """A policy in any workflow status, with its interpretations."""
    require_role(request)
    policy = await Policy.get_or_none(id=request.match_info["id"])
    if policy is None:
        raise api_error(404, "没有这个政策")
    return json_response(await _draft_json(policy))


@document(body="PolicyBody", response="Object")
async def update_policy(request: web.Request) -> web.Response:
    """Replace a draft's fields and, if given, its interpretations (publisher)."""
    token = require_role(request, Role.publisher)
    body = await _body(request)
    return await _run(publishing.update_policy(request.match_info["id"], body, actor(token)))


@document(response="Object")
async def submit_policy(request: web.Request) -> web.Response:
    """Submit a draft and its interpretations for review (publisher)."""
    token = require_role(request, Role.publisher)
    return await _run(publishing.submit(request.match_info["id"], actor(token)))


@document(body="PublishBody", response="Object")
async def publish_policy(request: web.Request) -> web.Response:
    """Publish the reviewed version with its interpretations (reviewer, not an author).

    The body carries the ``version_hash`` the reviewer saw; any later change is refused."""
    token = require_role(request, Role.reviewer)
    body = await _body(request)
    seen = body.get("version_hash") if isinstance(body, dict) else None
    response = await _run(
        publishing.publish(
            request.match_info["id"],
            actor(token),
            today(request),
            seen if isinstance(seen, str) else None,
        )
    )
    await refresh_search(request)
    return response


@document(response="Object")
async def list_versions(request: web.Request) -> web.Response:
    """Every version of a policy, newest first, with the hash each was reviewed under."""
    require_role(request)
    items = [
        {"number": v.number, "state": v.state.value, "version_hash": v.content_hash,
         "authors": v.authors, "submitted_by": v.submitted_by, "published_by": v.published_by,
         "published_at": v.published_at.isoformat() if v.published_at else None,
         "published_on": v.published_on.isoformat() if v.published_on else None,
         "sent_back_reason": v.sent_back_reason}
        for v in await publishing.history(request.match_info["id"])
    ]  # fmt: skip
    return json_response({"id": request.match_info["id"], "items": items})


@document(response="Object")
async def get_diff(request: web.Request) -> web.Response:
    """What the working version changes against the published one, as escaped HTML."""
    require_role(request)
    return json_response(
        {"html": await publishing.diff_against_published(request.match_info["id"])}
    )


async def _reason(request: web.Request) -> str:
    body = await _body(request)
    reason = body.get("reason", "") if isinstance(body, dict) else ""
    return str(reason)[:500]


@document(body="ReasonBody", response="Object")
async def reject_policy(request: web.Request) -> web.Response:
    """Send a submitted policy back to draft, with a reason (reviewer)."""
    token = require_role(request, Role.reviewer)
    reason = await _reason(request)
    return await _run(publishing.send_back(request.match_info["id"], actor(token), reason))


@document(body="ReasonBody", response="Object")
async def withdraw_policy(request: web.Request) -> web.Response:
    """Withdraw a published policy and its interpretations (reviewer)."""
    token = require_role(request, Role.reviewer)
    reason = await _reason(request)
    response = await _run(publishing.withdraw(request.match_info["id"], actor(token), reason))
    await refresh_search(request)
    return response


@document(
    params={
        "object_id": "对象 id",
        "action": "操作，如 policy.publish",
        "page": "页码",
        "per_page": "每页条数",
    },
    response="Object",
)
async def list_audit(request: web.Request) -> web.Response:
    """The audit trail, newest first: who changed what, when, from where (admin)."""
    require_role(request, Role.admin)
    page, per_page = params.paging(request, 50, MAX_PER_PAGE)
    query = AuditEntry.all()
    if object_id := request.query.get("object_id"):
        query = query.filter(object_id=object_id)
    if action := request.query.get("action"):
        query = query.filter(action=action)
    rows = await query.order_by("-id").offset((page - 1) * per_page).limit(per_page)
    items = [
        {
            "id": e.id,
            "at": e.at.isoformat(),
            "actor": e.actor,
            "role": e.role,
            "address": e.address,
            "action": e.action,
            "object_type": e.object_type,
            "object_id": e.object_id,
            "detail": e.detail,
        }
        for e in rows
    ]
    return json_response({"total": await query.count(), "page": page, "items": items})


@document(
    params={
        "at_risk_days": f"剩余工作日不多于此数即列为临期（默认 {AT_RISK_WORKING_DAYS}）",
        "since": "只看此日期（YYYY-MM-DD）之后成文的政策",
    },
    response="Object",
)
async def deadlines(request: web.Request) -> web.Response:
    """Proactive-disclosure deadlines (20 working days): late and at-risk policies."""
    require_role(request)
    at_risk = params.integer(request, "at_risk_days", AT_RISK_WORKING_DAYS, 0, 366)
    since = params.date(request, "since")
    day = today(request)
    calendar = await stored_calendar()
    tz = request.app[SETTINGS].server.tz
    items = await deadline_report(calendar, day, at_risk_days=at_risk, since=since, tz=tz)
    return json_response(
        {
            "today": day.isoformat(),
            "late": [i.to_json() for i in items if i.state == "late"],
            "at_risk": [i.to_json() for i in items if i.state == "at_risk"],
        }
    )
