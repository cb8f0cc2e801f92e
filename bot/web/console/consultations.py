"""Console screens of 征求意见/调研: write one (the legal minimum explained), moderate and
decide comments, publish the feedback report, CSV for the 起草部门. The work is done
by the admin API's domain functions (``bot.participation.consultations``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.config import Role
from bot.errors import DomainError
from bot.keys import SERVICES, SETTINGS
from bot.participation import consultations as consult
from bot.participation.models import Comment, Consultation
from bot.participation.outbox import wake
from bot.web.console.frame import User, action, back, page, refuse, render, who
from bot.web.errors import status_of
from bot.web.modes import today

MODERATING = (Role.editor, Role.reviewer)  # hide and decide comments
REPORTING = (Role.publisher, Role.reviewer)
DONE = {
    "hidden": "意见已屏蔽（不对外展示，理由已记入操作记录）。", "decided": "已记录处理意见。",
    "report": "意见采纳情况已公布，并将通知提出意见的居民。", "created": "征求意见已发布。",
}  # fmt: skip


@page
async def consultations_page(request: web.Request, user: User) -> web.Response:
    day = today(request)
    items = await Consultation.all().order_by("-opens_on", "id")
    counts = {c.id: await Comment.filter(consultation_id=c.id).count() for c in items}
    undecided = {c.id: await Comment.filter(consultation_id=c.id, state="visible", decision__isnull=True).count() for c in items}  # fmt: skip
    return render(request, "consultations.html", user, title="征求意见", items=items, counts=counts,
                  undecided=undecided, phase=lambda c: consult.phase(c, day),
                  notice=DONE.get(request.query.get("done", ""), ""), error="")  # fmt: skip


@action(Role.editor)
async def create(request: web.Request, user: User, form: Any) -> web.StreamResponse:
    get = lambda k: str(form.get(k, "")).strip()  # noqa: E731
    body: dict[str, Any] = {
        k: get(k) or None
        for k in ("id", "title", "issuer", "kind", "opens_on", "closes_on", "shortened_reason")
    }
    body["topics"] = [t for t in get("topics").replace("，", ",").split(",") if t.strip()]
    body["body"] = get("body")
    try:
        c = await consult.create(request.app[SETTINGS], body, who(user))
    except DomainError as exc:
        return refuse(request, user, exc.message, status_of(exc))
    raise back(f"/admin/consultations/{c.id}", done="created")


async def _consultation_view(request: web.Request, user: User, cid: str, *, error: str = "",
                             status: int = 200) -> web.Response:  # fmt: skip
    c = await Consultation.get_or_none(id=cid)
    if c is None:
        return refuse(request, user, "没有这个征求意见。", 404)
    comments = await Comment.filter(consultation_id=c.id).order_by("id")
    return render(request, "consultation.html", user, status=status, title=c.title, c=c, comments=comments,
                  phase=consult.phase(c, today(request)), error=error,
                  notice=DONE.get(request.query.get("done", ""), ""), decisions=[d.value for d in consult.Decision])  # fmt: skip


@page
async def consultation_page(request: web.Request, user: User) -> web.Response:
    return await _consultation_view(request, user, request.match_info["id"])


def comment_step(
    step: str, roles: tuple[Role, ...]
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    @action(*roles)
    async def handler(request: web.Request, user: User, form: Any) -> web.StreamResponse:
        cid = request.match_info["id"]
        reason = str(form.get("reason", ""))
        try:
            if step == "hide":
                await consult.hide(cid, int(request.match_info["comment_id"]), reason, who(user))
            elif step == "decide":
                body = {"decision": str(form.get("decision", "")), "reason": reason}
                await consult.decide(cid, int(request.match_info["comment_id"]), body, who(user))
            else:
                await consult.publish_report(
                    request.app[SETTINGS], cid, {"text": str(form.get("text", ""))}, who(user)
                )
                wake(request.app[SERVICES])
        except DomainError as exc:
            return await _consultation_view(
                request, user, cid, error=exc.message, status=status_of(exc)
            )
        raise back(
            f"/admin/consultations/{cid}",
            done={"hide": "hidden", "decide": "decided"}.get(step, "report"),
        )

    return handler


@page
async def comments_csv(request: web.Request, user: User) -> web.Response:
    cid = request.match_info["id"]
    try:
        text = await consult.comments_csv(cid)
    except DomainError as exc:
        return refuse(request, user, exc.message, status_of(exc))
    return web.Response(text=text, content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="consultation-{cid}-comments.csv"'})  # fmt: skip
