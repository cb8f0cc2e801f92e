"""依申请公开 over HTTP: the H5 application form, the public JSON route behind it, the
staff admin API, and the open annual-report statistics. HTTP glue only; the rules are
in ``bot.participation.requests``.

Handling staff (editor, reviewer, admin) see applicants' personal data; any other
role sees it masked. The applicant's openid is taken only from WeChat's web
authorisation (``bot.web.resident``), never from what a browser claims.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from bot.catalog.deadlines import stored_calendar
from bot.config import Role
from bot.errors import DomainError
from bot.keys import SERVICES, SETTINGS
from bot.participation import requests
from bot.participation.outbox import wake
from bot.participation.outcomes import APPLICANT_TYPES, DELIVERY, ID_TYPES, ORG_KINDS, OUTCOMES
from bot.participation.report import annual_report
from bot.privacy import sealer
from bot.web import resident
from bot.web.auth import actor, require_role
from bot.web.errors import api_error
from bot.web.modes import render_page
from bot.web.openapi import document
from bot.web.responses import json_response

HANDLING_ROLES = (Role.editor, Role.reviewer)  # admin may always
APPLY = "/disclosure/apply"


async def _json_body(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise api_error(400, "请求体应为 JSON 对象") from None


def _public_openid(request: web.Request, body: Any) -> tuple[str | None, bool]:
    """(openid, verified): the one WeChat's web authorisation vouched for; without it, an
    ``openid`` in the body is kept but not trusted (the chat will not answer it and no
    reply goes to it, so nobody can point another resident's WeChat at a request)."""
    openid = resident.current_openid(request)
    claimed = body.get("openid") if isinstance(body, dict) else None
    if claimed is not None and not isinstance(claimed, str):
        raise api_error(422, "openid 应为文本", "invalid")
    if openid is None:
        return (claimed[:64] if claimed else None), False
    if claimed and claimed != openid:
        raise api_error(
            422, "openid 与微信网页授权的身份不一致，请从公众号菜单重新打开申请表", "invalid"
        )
    return openid, True


# --- resident side -------------------------------------------------------------------------


def _form(request: web.Request, *, status: int = 200, error: str = "", values: Any = None,
          done: Any = None) -> web.Response:  # fmt: skip
    openid = resident.current_openid(request)
    return render_page(
        request, "disclosure_apply.html", status=status, title="政府信息公开申请",
        openid=openid, token=resident.form_token(request, openid) if openid else "",
        error=error, values=values or {}, done=done, applicant_types=APPLICANT_TYPES,
        id_types=ID_TYPES, org_kinds=ORG_KINDS, delivery=DELIVERY,
        authorize=resident.authorize_url(request, APPLY) if not openid and resident.can_authorize(request) else "",
    )  # fmt: skip


async def apply_page(request: web.Request) -> web.Response:
    """The H5 form (from the menu or the chat's 申请公开 answer)."""
    return _form(request)


async def apply_form(request: web.Request) -> web.Response:
    form = await request.post()
    values = {k: str(v) for k, v in form.items()}
    openid = resident.current_openid(request)
    if openid and not resident.form_token_ok(request, openid, values.get("token", "")):
        return _form(request, status=403, error="表单已失效，请刷新页面后重新填写。", values=values)
    body = {
        "applicant": {k: values.get(k) or None for k in ("type", "org_kind", "name", "id_type",
                                                            "id_number", "phone", "address", "email")},
        "description": values.get("description"), "purpose": values.get("purpose") or None,
        "delivery": values.get("delivery"),
    }  # fmt: skip
    try:
        req = await requests.receive(
            request.app[SETTINGS], body, openid=openid, openid_verified=True
        )
    except DomainError as exc:
        return _form(request, status=422, error=exc.message, values=values)
    return _form(request, status=201, done=requests.public_json(req))


@document(body="DisclosureApplication", response="Object")
async def submit(request: web.Request) -> web.Response:
    """A resident's application (the H5 form's JSON route) → {number, received_on, due_on, state}."""
    body = await _json_body(request)
    openid, verified = _public_openid(request, body)
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k != "openid"}
    req = await requests.receive(
        request.app[SETTINGS], body, openid=openid, openid_verified=verified
    )
    return json_response(requests.public_json(req), status=201)


# --- staff ---------------------------------------------------------------------------------


def _full(token: Any) -> bool:
    return token.role in HANDLING_ROLES or token.role == Role.admin


@document(body="DisclosureApplication", response="Object")
async def register(request: web.Request) -> web.Response:
    """Staff register a request received by post or in person, with ``received_on`` (editor, reviewer)."""
    token = require_role(request, *HANDLING_ROLES)
    body = await _json_body(request)
    req = await requests.receive(request.app[SETTINGS], body, who=actor(token), staff=True)
    return json_response(requests.public_json(req), status=201)


@document(params={"state": "received、supplement、third_party 或 answered",
                  "due_before": "答复期限不晚于该日（YYYY-MM-DD）"}, response="Object")  # fmt: skip
async def list_requests(request: web.Request) -> web.Response:
    """Disclosure requests by due date (any admin role; personal data masked unless handling staff)."""
    token = require_role(request)
    due_before = None
    if request.query.get("due_before"):
        try:
            due_before = dt.date.fromisoformat(request.query["due_before"])
        except ValueError:
            raise api_error(400, "due_before 应为日期（YYYY-MM-DD）") from None
    items = await requests.list_requests(request.query.get("state") or None, due_before)
    seal = sealer(request.app[SETTINGS].privacy)
    return json_response({"total": len(items),
                          "items": [requests.to_json(r, seal, full=_full(token)) for r in items]})  # fmt: skip


@document(response="Object")
async def get_request(request: web.Request) -> web.Response:
    """One request with its clock, steps and reply."""
    token = require_role(request)
    req = await requests.get(request.match_info["number"])
    seal = sealer(request.app[SETTINGS].privacy)
    return json_response(requests.to_json(req, seal, full=_full(token)))


def _step(name: str, doc: str, body: str) -> Any:
    operation = getattr(requests, name)

    @document(body=body, response="Object")
    async def handler(request: web.Request) -> web.Response:
        token = require_role(request, *HANDLING_ROLES)
        body = await _json_body(request)
        settings = request.app[SETTINGS]
        req = await operation(settings, request.match_info["number"], body, actor(token))
        wake(request.app[SERVICES])
        return json_response(requests.to_json(req, sealer(settings.privacy), full=True))

    handler.__doc__ = doc
    handler.__name__ = f"disclosure_{name}"
    return handler


extend = _step(
    "extend",
    "Extend once by up to 20 working days: {reason, approver, days?} (editor, reviewer).",
    "ExtendBody",
)
supplement = _step(
    "supplement", "Ask for 补正 within 7 working days: {what}; stops the clock.", "SupplementBody"
)
supplied = _step(
    "supplied", "The clarification arrived: {on?}; the 20 working days restart.", "SuppliedBody"
)
third_party = _step(
    "third_party",
    "Start ({done: false}) or end ({done: true}) waiting for a third party's opinion.",
    "ThirdPartyBody",
)
reply = _step(
    "reply",
    "Reply: {outcome, reason?, text, attachments?} with the annual report's categories.",
    "ReplyBody",
)


@document(params={"year": "年份（YYYY）"}, response="Object")
async def annual_report_api(request: web.Request) -> web.Response:
    """Section 三 of the 政府信息公开工作年度报告, plus median working days and on-time share."""
    raw = request.query.get("year", "")
    if not (raw.isdigit() and 2000 <= int(raw) <= 2100):
        raise api_error(400, "year 应为四位年份，如 2026")
    report = await annual_report(int(raw), await stored_calendar())
    return json_response(report, headers={"Access-Control-Allow-Origin": "*"})


@document(response="Object")
async def outcomes_api(request: web.Request) -> web.Response:
    """The outcome categories and sub-reasons a reply may use."""
    return json_response({"outcomes": {k: list(v) for k, v in OUTCOMES.items()}})
