"""Console screens of 依申请公开: requests by due date (late, due within 5 working days,
stopped, the rest), registering a letter, each request's steps and deliveries, and the
annual report table with its CSV. The work is done by the admin API's domain functions
(``bot.participation.requests``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.catalog.deadlines import stored_calendar
from bot.config import Role
from bot.errors import DomainError
from bot.keys import SERVICES, SETTINGS
from bot.models import AuditEntry
from bot.participation import requests
from bot.participation.clock import supplement_deadline
from bot.participation.consultations import csv_cells
from bot.participation.models import DisclosureRequest, Outbox, RequestState
from bot.participation.outbox import wake
from bot.participation.outcomes import OUTCOMES
from bot.participation.report import annual_report
from bot.privacy import sealer
from bot.web.console.frame import User, action, back, can, page, refuse, render, who
from bot.web.errors import status_of
from bot.web.modes import today

HANDLING = (Role.editor, Role.reviewer)  # see applicants in full and take the steps
DUE_SOON = 5  # working days
OUTBOX_STATES = {
    "pending": "待发送", "sending": "发送中", "sent": "已通过微信送达",
    "failed": "未能通过微信送达（请电话、邮寄或现场送达）", "no_channel": "待送达（尚无此渠道，请人工送达）",
}  # fmt: skip
DONE = {
    "registered": "申请已登记。", "extend": "已延长答复期限，并通知申请人。",
    "supplement": "已发出补正通知，答复期限暂停计算。", "supplied": "已登记补正，答复期限重新计算。",
    "third_party": "已登记第三方意见征询。", "reply": "答复已记录；通过微信或邮件答复的，系统会自动送达。",
}  # fmt: skip
STEPS = ("extend", "supplement", "supplied", "third_party", "reply")


@page
async def requests_page(request: web.Request, user: User) -> web.Response:
    cal, day = await stored_calendar(), today(request)
    items = await DisclosureRequest.all().order_by("due_on", "id").limit(500)
    rows = []
    for r in items:
        left = cal.working_days_between(day, r.due_on)
        if r.state == RequestState.answered:
            group = "answered"
        elif r.state in (RequestState.supplement, RequestState.third_party):
            group = "stopped"
        elif day > r.due_on:
            group = "late"
        else:
            group = "soon" if left <= DUE_SOON else "open"
        rows.append({"r": r, "left": left, "group": group})
    counts = {
        g: sum(1 for x in rows if x["group"] == g)
        for g in ("late", "soon", "stopped", "open", "answered")
    }
    notice = DONE.get(request.query.get("done", ""), "")
    return render(request, "disclosure.html", user, title="依申请公开", rows=rows, counts=counts,
                  notice=notice, state_names=requests.STATE_NAMES, year=day.year)  # fmt: skip


async def _request_view(request: web.Request, user: User, number: str, *, error: str = "",
                        status: int = 200) -> web.Response:  # fmt: skip
    try:
        req = await requests.get(number)
    except DomainError:
        return refuse(request, user, "没有这个申请。", 404)
    settings = request.app[SETTINGS]
    full = can(user, *HANDLING)
    data = requests.to_json(req, sealer(settings.privacy), full=full)
    history = await AuditEntry.filter(
        object_type="disclosure_request", object_id=req.number
    ).order_by("id")
    messages = await Outbox.filter(object_id=req.number, kind__startswith="disclosure.").order_by(
        "id"
    )
    cal = await stored_calendar()
    return render(
        request, "disclosure_request.html", user, status=status, title=f"申请 {req.number}", req=req,
        data=data, history=history, messages=messages, outbox_states=OUTBOX_STATES, error=error, notice=DONE.get(request.query.get("done", ""), ""),
        outcomes=OUTCOMES, handling=HANDLING, state_names=requests.STATE_NAMES,
        supplement_by=supplement_deadline(cal, req.received_on).day, full=full,
    )  # fmt: skip


@page
async def request_page(request: web.Request, user: User) -> web.Response:
    return await _request_view(request, user, request.match_info["number"])


def _form_body(step: str, form: Any) -> dict[str, Any]:
    get = lambda k: str(form.get(k, "")).strip()  # noqa: E731
    if step == "extend":
        days = get("days")
        return {
            "reason": get("reason"),
            "approver": get("approver"),
            "days": int(days) if days.isdigit() else 20,
        }
    if step == "supplement":
        return {"what": get("what")}
    if step in ("supplied", "third_party"):
        return {"on": get("on") or None, "done": get("done") == "1"}
    attachments = [{"name": n.strip(), "url": u.strip()} for n, _, u in
                   (line.partition(" ") for line in get("attachments").splitlines() if line.strip())]  # fmt: skip
    return {
        "outcome": get("outcome"),
        "reason": get("reason") or None,
        "text": get("text"),
        "attachments": attachments,
    }


def request_step(step: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    operation = getattr(requests, step)

    @action(*HANDLING)
    async def handler(request: web.Request, user: User, form: Any) -> web.StreamResponse:
        number = request.match_info["number"]
        try:
            await operation(request.app[SETTINGS], number, _form_body(step, form), who(user))
        except DomainError as exc:
            return await _request_view(
                request, user, number, error=exc.message, status=status_of(exc)
            )
        wake(request.app[SERVICES])
        raise back(f"/admin/disclosure/{number}", done=step)

    return handler


@action(*HANDLING)
async def register(request: web.Request, user: User, form: Any) -> web.StreamResponse:
    get = lambda k: str(form.get(k, "")).strip() or None  # noqa: E731
    body = {
        "applicant": {k: get(k) for k in ("type", "org_kind", "name", "id_type", "id_number", "phone", "address", "email")},
        "description": get("description"), "purpose": get("purpose"), "delivery": get("delivery"),
        "received_on": get("received_on"), "openid": get("openid"),
    }  # fmt: skip
    try:
        req = await requests.receive(request.app[SETTINGS], body, who=who(user), staff=True)
    except DomainError as exc:
        return refuse(request, user, exc.message, status_of(exc))
    raise back(f"/admin/disclosure/{req.number}", done="registered")


def _year(request: web.Request) -> int:
    raw = request.query.get("year", "")
    return int(raw) if raw.isdigit() and 2000 <= int(raw) <= 2100 else today(request).year


@page
async def report_page(request: web.Request, user: User) -> web.Response:
    year = _year(request)
    report = await annual_report(year, await stored_calendar())
    return render(
        request,
        "disclosure_report.html",
        user,
        title=f"{year} 年政府信息公开申请情况",
        report=report,
    )


@page
async def report_csv(request: web.Request, user: User) -> web.Response:
    year = _year(request)
    report = await annual_report(year, await stored_calendar())
    rows: list[list[Any]] = [["项目", *report["columns"]]]
    rows += [[row["row"].strip(), *(row[c] for c in report["columns"])] for row in report["table"]]
    rows.append([])
    rows.append(["答复用时中位数（工作日）", report["median_working_days"]])
    rows.append(["按期答复比例", report["on_time_share"]])
    return web.Response(text=csv_cells(rows), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="disclosure-report-{year}.csv"'})  # fmt: skip
