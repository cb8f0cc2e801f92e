"""征求意见/调研 over HTTP: resident pages (draft by section, period, comment form for
residents identified by WeChat's web authorisation, the feedback report once
published), open data, and the staff admin API. Rules: ``bot.participation.consultations``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.catalog.kinds import kind
from bot.config import Role
from bot.errors import DomainError
from bot.keys import SERVICES, SETTINGS
from bot.participation import consultations as domain
from bot.participation.models import Consultation, ConsultationStatus
from bot.participation.outbox import wake
from bot.web import resident
from bot.web.auth import actor, require_role
from bot.web.errors import api_error
from bot.web.modes import render_page
from bot.web.openapi import document
from bot.web.responses import json_response

READ_ROLES = (Role.publisher, Role.editor, Role.reviewer)
MODERATE_ROLES = (Role.editor, Role.reviewer)
REPORT_ROLES = (Role.publisher, Role.reviewer)


def _day(request: web.Request) -> Any:
    return domain.today(request.app[SETTINGS])


async def _published(request: web.Request) -> Consultation | None:
    return await Consultation.get_or_none(
        id=request.match_info["id"], status=ConsultationStatus.published
    )


# --- pages ---------------------------------------------------------------------------------


async def list_page(request: web.Request) -> web.Response:
    day = _day(request)
    items = await Consultation.filter(status=ConsultationStatus.published).order_by(
        "-opens_on", "id"
    )
    groups = {
        p: [c for c in items if domain.phase(c, day) == p]
        for p in ("open", "upcoming", "closed", "reported")
    }
    return render_page(request, "consultations.html", title="征求意见", groups=groups, day=day,
                       days_left=domain.days_left)  # fmt: skip


async def _detail(request: web.Request, c: Consultation, *, status: int = 200, notice: str = "",
                  error: str = "") -> web.Response:  # fmt: skip
    day = _day(request)
    data = await domain.to_json(c, day, request.app[SETTINGS].server.base_url)
    openid = resident.current_openid(request)
    authorize = ""
    if not openid and domain.is_open(c, day) and resident.can_authorize(request):
        authorize = resident.authorize_url(request, f"/consultations/{c.id}")
    return render_page(
        request, "consultation.html", status=status, title=c.title, c=c, data=data,
        open=domain.is_open(c, day), openid=openid, authorize=authorize, notice=notice, error=error,
        token=resident.form_token(request, openid) if openid else "",
    )  # fmt: skip


async def detail_page(request: web.Request) -> web.Response:
    c = await _published(request)
    if c is None:
        return render_page(
            request, "error.html", status=404, title="未找到", message="没有这个征求意见。"
        )
    return await _detail(request, c)


async def comment_form(request: web.Request) -> web.Response:
    """A resident's comment from the page; only a WeChat-identified resident may post."""
    c = await _published(request)
    if c is None:
        return render_page(
            request, "error.html", status=404, title="未找到", message="没有这个征求意见。"
        )
    form = await request.post()
    openid = resident.current_openid(request)
    if openid is None:
        return await _detail(
            request, c, status=403, error="请从公众号打开本页（需微信授权）后再提交意见。"
        )
    if not resident.form_token_ok(request, openid, str(form.get("token", ""))):
        return await _detail(request, c, status=403, error="表单已失效，请刷新页面后重新提交。")
    section = str(form.get("section", "")).strip()[:80] or None
    try:
        answers = domain.survey_answers(c, {k: [str(v) for v in form.getall(k)] for k in form})
        comment = await domain.add_comment(request.app[SETTINGS], c, openid, str(form.get("text", "")),
                                           section=section, via="page", answers=answers)  # fmt: skip
    except DomainError as exc:
        return await _detail(
            request, c, status=409 if exc.status_kind == "conflict" else 422, error=exc.message
        )
    return await _detail(
        request, c, status=201, notice=f"感谢参与！您的意见已记录，编号 {comment.id}。"
    )


# --- open data -----------------------------------------------------------------------------


@document(response="Object")
async def list_api(request: web.Request) -> web.Response:
    """Consultations (征求意见/调研) with their phase, period and, once published, feedback report."""
    day = _day(request)
    base = request.app[SETTINGS].server.base_url
    items = await Consultation.filter(status=ConsultationStatus.published).order_by(
        "-opens_on", "id"
    )
    data = await kind("consultation").json(list(items), base, day)
    return json_response(
        {"total": len(data), "items": data}, headers={"Access-Control-Allow-Origin": "*"}
    )


@document(response="Object")
async def get_api(request: web.Request) -> web.Response:
    """One consultation: draft sections, period, days left and the feedback report once published."""
    c = await domain.get(request.match_info["id"])
    base = request.app[SETTINGS].server.base_url
    (data,) = await kind("consultation").json([c], base, _day(request))
    return json_response(data, headers={"Access-Control-Allow-Origin": "*"})


# --- admin ---------------------------------------------------------------------------------


async def _body(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise api_error(400, "请求体应为 JSON 对象") from None


def _comment_id(request: web.Request) -> int:
    try:
        return int(request.match_info["comment_id"])
    except ValueError:
        raise api_error(404, "没有这条意见") from None


@document(body="ConsultationBody", response="Object")
async def create_api(request: web.Request) -> web.Response:
    """Write a consultation (same fields as content/consultations/*.md, body in ``body``; editor)."""
    token = require_role(request, Role.editor)
    c = await domain.create(request.app[SETTINGS], await _body(request), actor(token))
    return json_response(
        await domain.to_json(c, _day(request), request.app[SETTINGS].server.base_url), status=201
    )


@document(response="Object")
async def comments_api(request: web.Request) -> web.Response:
    """Every comment, hidden ones included, with its state and decision (any admin role)."""
    require_role(request, *READ_ROLES)
    items = await domain.list_comments(request.match_info["id"])
    return json_response({"total": len(items), "items": [domain.comment_json(x) for x in items]})


async def comments_csv(request: web.Request) -> web.Response:
    """Comments as CSV for the 起草部门 (formula-looking cells neutralised)."""
    require_role(request, *READ_ROLES)
    text = await domain.comments_csv(request.match_info["id"])
    name = f"consultation-{request.match_info['id']}-comments.csv"
    return web.Response(text=text, content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


@document(body="DecisionBody", response="Object")
async def decide_api(request: web.Request) -> web.Response:
    """Decide a comment once: {decision: 采纳|部分采纳|未采纳, reason} (editor, reviewer)."""
    token = require_role(request, *MODERATE_ROLES)
    comment = await domain.decide(
        request.match_info["id"], _comment_id(request), await _body(request), actor(token)
    )
    return json_response(domain.comment_json(comment))


@document(body="HideBody", response="Object")
async def hide_api(request: web.Request) -> web.Response:
    """Hide a comment from the public (abuse, personal data): {reason}; nothing is deleted."""
    token = require_role(request, *MODERATE_ROLES)
    body = await _body(request)
    reason = body.get("reason") if isinstance(body, dict) else None
    comment = await domain.hide(
        request.match_info["id"], _comment_id(request), str(reason or ""), actor(token)
    )
    return json_response(domain.comment_json(comment))


@document(body="ReportBody", response="Object")
async def report_api(request: web.Request) -> web.Response:
    """Publish the feedback report (意见采纳情况) in one action: {text?} (publisher, reviewer)."""
    token = require_role(request, *REPORT_ROLES)
    settings = request.app[SETTINGS]
    c = await domain.publish_report(
        settings, request.match_info["id"], await _body(request), actor(token)
    )
    wake(request.app[SERVICES])
    return json_response(await domain.to_json(c, _day(request), settings.server.base_url))
