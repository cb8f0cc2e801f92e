"""Console screens of public participation: 依申请公开 (by due date: late, due within 5
working days, the rest; each request's steps; the annual report table with its CSV) and
征求意见 (write one, moderate and decide comments, publish the report, CSV for the
起草部门). The work is done by the same domain functions as the admin API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.audit import Actor
from bot.config import Role
from bot.errors import DomainError
from bot.models import AuditEntry
from bot.participation import consultations as consult
from bot.participation import requests
from bot.participation.clock import supplement_deadline
from bot.participation.models import Comment, Consultation, DisclosureRequest, Outbox, RequestState
from bot.participation.outbox import wake
from bot.participation.outcomes import OUTCOMES
from bot.participation.report import annual_report
from bot.privacy import sealer
from bot.web import session
from bot.web.console import _back, action, can, page, refuse, render
from bot.web.errors import status_of
from bot.web.keys import SERVICES, SETTINGS
from bot.web.modes import today

HANDLING = (Role.editor, Role.reviewer)  # also moderate and decide comments
REPORTING = (Role.publisher, Role.reviewer)
DUE_SOON = 5  # working days
OUTBOX_STATES = {
    "pending": "待发送", "sending": "发送中", "sent": "已通过微信送达",
    "failed": "未能通过微信送达（请电话、邮寄或现场送达）", "no_channel": "待送达（尚无此渠道，请人工送达）",
}  # fmt: skip
DONE = {
    "registered": "申请已登记。", "extend": "已延长答复期限，并通知申请人。",
    "supplement": "已发出补正通知，答复期限暂停计算。", "supplied": "已登记补正，答复期限重新计算。",
    "third_party": "已登记第三方意见征询。", "reply": "答复已记录；通过微信或邮件答复的，系统会自动送达。",
    "hidden": "意见已屏蔽（不对外展示，理由已记入操作记录）。", "decided": "已记录处理意见。",
    "report": "意见采纳情况已公布，并将通知提出意见的居民。", "created": "征求意见已发布。",
}  # fmt: skip


def _who(user: session.Session) -> Actor:
    return Actor(user.name, user.token.role.value)


# --- 依申请公开 ------------------------------------------------------------------------------


@page
async def requests_page(request: web.Request, user: session.Session) -> web.Response:
    settings = request.app[SETTINGS]
    cal, day = requests.calendar(settings), today(request)
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


async def _request_view(request: web.Request, user: session.Session, number: str, *, error: str = "",
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
    cal = requests.calendar(settings)
    return render(
        request, "disclosure_request.html", user, status=status, title=f"申请 {req.number}", req=req,
        data=data, history=history, messages=messages, outbox_states=OUTBOX_STATES, error=error, notice=DONE.get(request.query.get("done", ""), ""),
        outcomes=OUTCOMES, handling=HANDLING, state_names=requests.STATE_NAMES,
        supplement_by=supplement_deadline(cal, req.received_on).day, full=full,
    )  # fmt: skip


@page
async def request_page(request: web.Request, user: session.Session) -> web.Response:
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


def _request_step(step: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    operation = getattr(requests, step)

    @action(*HANDLING)
    async def handler(request: web.Request, user: session.Session, form: Any) -> web.StreamResponse:
        number = request.match_info["number"]
        try:
            await operation(request.app[SETTINGS], number, _form_body(step, form), _who(user))
        except DomainError as exc:
            return await _request_view(
                request, user, number, error=exc.message, status=status_of(exc)
            )
        wake(request.app[SERVICES])
        raise _back(f"/admin/disclosure/{number}", done=step)

    return handler


@action(*HANDLING)
async def register(request: web.Request, user: session.Session, form: Any) -> web.StreamResponse:
    get = lambda k: str(form.get(k, "")).strip() or None  # noqa: E731
    body = {
        "applicant": {k: get(k) for k in ("type", "org_kind", "name", "id_type", "id_number", "phone", "address", "email")},
        "description": get("description"), "purpose": get("purpose"), "delivery": get("delivery"),
        "received_on": get("received_on"), "openid": get("openid"),
    }  # fmt: skip
    try:
        req = await requests.receive(request.app[SETTINGS], body, who=_who(user), staff=True)
    except DomainError as exc:
        return refuse(request, user, exc.message, status_of(exc))
    raise _back(f"/admin/disclosure/{req.number}", done="registered")


def _year(request: web.Request) -> int:
    raw = request.query.get("year", "")
    return int(raw) if raw.isdigit() and 2000 <= int(raw) <= 2100 else today(request).year


@page
async def report_page(request: web.Request, user: session.Session) -> web.Response:
    year = _year(request)
    report = await annual_report(year, requests.calendar(request.app[SETTINGS]))
    return render(
        request,
        "disclosure_report.html",
        user,
        title=f"{year} 年政府信息公开申请情况",
        report=report,
    )


@page
async def report_csv(request: web.Request, user: session.Session) -> web.Response:
    year = _year(request)
    report = await annual_report(year, requests.calendar(request.app[SETTINGS]))
    rows: list[list[Any]] = [["项目", *report["columns"]]]
    rows += [[row["row"].strip(), *(row[c] for c in report["columns"])] for row in report["table"]]
    rows.append([])
    rows.append(["答复用时中位数（工作日）", report["median_working_days"]])
    rows.append(["按期答复比例", report["on_time_share"]])
    return web.Response(text=consult.csv_cells(rows), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="disclosure-report-{year}.csv"'})  # fmt: skip


# --- 征求意见 --------------------------------------------------------------------------------


@page
async def consultations_page(request: web.Request, user: session.Session) -> web.Response:
    day = today(request)
    items = await Consultation.all().order_by("-opens_on", "id")
    counts = {c.id: await Comment.filter(consultation_id=c.id).count() for c in items}
    undecided = {c.id: await Comment.filter(consultation_id=c.id, state="visible", decision__isnull=True).count() for c in items}  # fmt: skip
    return render(request, "consultations.html", user, title="征求意见", items=items, counts=counts,
                  undecided=undecided, phase=lambda c: consult.phase(c, day),
                  notice=DONE.get(request.query.get("done", ""), ""), error="")  # fmt: skip


@action(Role.editor)
async def create(request: web.Request, user: session.Session, form: Any) -> web.StreamResponse:
    get = lambda k: str(form.get(k, "")).strip()  # noqa: E731
    body: dict[str, Any] = {
        k: get(k) or None
        for k in ("id", "title", "issuer", "kind", "opens_on", "closes_on", "shortened_reason")
    }
    body["topics"] = [t for t in get("topics").replace("，", ",").split(",") if t.strip()]
    body["body"] = get("body")
    try:
        c = await consult.create(request.app[SETTINGS], body, _who(user))
    except DomainError as exc:
        return refuse(request, user, exc.message, status_of(exc))
    raise _back(f"/admin/consultations/{c.id}", done="created")


async def _consultation_view(request: web.Request, user: session.Session, cid: str, *, error: str = "",
                             status: int = 200) -> web.Response:  # fmt: skip
    c = await Consultation.get_or_none(id=cid)
    if c is None:
        return refuse(request, user, "没有这个征求意见。", 404)
    comments = await Comment.filter(consultation_id=c.id).order_by("id")
    return render(request, "consultation.html", user, status=status, title=c.title, c=c, comments=comments,
                  phase=consult.phase(c, today(request)), error=error,
                  notice=DONE.get(request.query.get("done", ""), ""), decisions=[d.value for d in consult.Decision])  # fmt: skip


@page
async def consultation_page(request: web.Request, user: session.Session) -> web.Response:
    return await _consultation_view(request, user, request.match_info["id"])


def _comment_step(
    step: str, roles: tuple[Role, ...]
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    @action(*roles)
    async def handler(request: web.Request, user: session.Session, form: Any) -> web.StreamResponse:
        cid = request.match_info["id"]
        reason = str(form.get("reason", ""))
        try:
            if step == "hide":
                await consult.hide(cid, int(request.match_info["comment_id"]), reason, _who(user))
            elif step == "decide":
                body = {"decision": str(form.get("decision", "")), "reason": reason}
                await consult.decide(cid, int(request.match_info["comment_id"]), body, _who(user))
            else:
                await consult.publish_report(
                    request.app[SETTINGS], cid, {"text": str(form.get("text", ""))}, _who(user)
                )
                wake(request.app[SERVICES])
        except DomainError as exc:
            return await _consultation_view(
                request, user, cid, error=exc.message, status=status_of(exc)
            )
        raise _back(
            f"/admin/consultations/{cid}",
            done={"hide": "hidden", "decide": "decided"}.get(step, "report"),
        )

    return handler


@page
async def comments_csv(request: web.Request, user: session.Session) -> web.Response:
    cid = request.match_info["id"]
    try:
        text = await consult.comments_csv(cid)
    except DomainError as exc:
        return refuse(request, user, exc.message, status_of(exc))
    return web.Response(text=text, content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="consultation-{cid}-comments.csv"'})  # fmt: skip


def setup_routes(app: web.Application) -> None:
    add_get, add_post = app.router.add_get, app.router.add_post
    add_get("/admin/disclosure", requests_page, name="console_disclosure")
    add_post("/admin/disclosure", register, name="console_disclosure_register")
    add_get("/admin/disclosure/report", report_page, name="console_disclosure_report")
    add_get("/admin/disclosure/report.csv", report_csv, name="console_disclosure_report_csv")
    add_get("/admin/disclosure/{number}", request_page, name="console_disclosure_request")
    for step in ("extend", "supplement", "supplied", "third_party", "reply"):
        add_post(
            f"/admin/disclosure/{{number}}/{step}",
            _request_step(step),
            name=f"console_disclosure_{step}",
        )
    add_get("/admin/consultations", consultations_page, name="console_consultations")
    add_post("/admin/consultations", create, name="console_consultation_create")
    add_get("/admin/consultations/{id}", consultation_page, name="console_consultation")
    add_get("/admin/consultations/{id}/comments.csv", comments_csv, name="console_consultation_csv")
    add_post(r"/admin/consultations/{id}/comments/{comment_id:\d+}/hide", _comment_step("hide", HANDLING),
             name="console_consultation_hide")  # fmt: skip
    add_post(r"/admin/consultations/{id}/comments/{comment_id:\d+}/decide", _comment_step("decide", HANDLING),
             name="console_consultation_decide")  # fmt: skip
    add_post("/admin/consultations/{id}/report", _comment_step("report", REPORTING),
             name="console_consultation_report")  # fmt: skip
