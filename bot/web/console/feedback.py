"""The 留言 inbox: what is due and overdue under the 48-hour reply target, search, answer in one step."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from bot.errors import DomainError
from bot.feedback import answers
from bot.keys import SERVICES
from bot.models import AuditEntry, Feedback, FeedbackStatus, Subscriber
from bot.web.console.frame import User, action, back, page, page_number, record_id, render, who
from bot.web.errors import status_of

PER_PAGE = 20
MAX_QUERY = 50
TABS = (("new", "待答复"), ("overdue", "已超时"), ("answered", "已答复"), ("all", "全部"))
DELIVERED = "答复已记录，并已通过微信客服消息发送给居民。"


async def overdue_count(now: dt.datetime) -> int:
    """Unanswered 留言 older than the reply target (the dashboard shows it too)."""
    return await Feedback.filter(
        status=FeedbackStatus.new, created_at__lt=now - answers.REPLY_TARGET
    ).count()


async def _latest_answers(ids: list[int]) -> dict[int, AuditEntry]:
    entries = await AuditEntry.filter(
        object_type="feedback",
        action__in=answers.ANSWER_ACTIONS,
        object_id__in=[str(i) for i in ids],
    ).order_by("id")
    return {int(e.object_id): e for e in entries}  # later entries overwrite earlier ones


def _reachability(resident: Subscriber | None, now: dt.datetime) -> str:
    """Whether an answer can reach the resident through WeChat now (one of three)."""
    if resident is not None and not resident.following:
        return "unfollowed"
    active = resident.last_active_at if resident else None
    return "window" if active and now - active <= answers.WINDOW else "outside"


def _clock(item: Feedback, now: dt.datetime) -> dict[str, Any]:
    """Hours left under the reply target, or how late; for answered ones how long it took."""
    due = item.created_at + answers.REPLY_TARGET
    if item.answered_at:
        hours = (item.answered_at - item.created_at).total_seconds() / 3600
        return {"state": "answered", "hours": round(hours, 1), "late": item.answered_at > due}
    left = (due - now).total_seconds() / 3600
    return {"state": "overdue" if left < 0 else "due", "hours": round(abs(left), 1), "due": due}


@page
async def inbox(request: web.Request, user: User) -> web.Response:
    return await _view(request, user)


async def _view(
    request: web.Request, user: User, error: str = "", status: int = 200
) -> web.Response:
    now = dt.datetime.now(dt.UTC)
    tab = request.query.get("status", "new")
    tab = tab if tab in dict(TABS) else "new"
    text = request.query.get("q", "").strip()[:MAX_QUERY]
    state = {"new": FeedbackStatus.new, "overdue": FeedbackStatus.new,
             "answered": FeedbackStatus.answered}.get(tab)  # fmt: skip
    before = now - answers.REPLY_TARGET if tab == "overdue" else None
    number = page_number(request)
    total, items = await answers.list_feedback(
        state, number, PER_PAGE, text=text, created_before=before
    )
    residents = {s.openid: s for s in await Subscriber.filter(openid__in={f.openid for f in items})}
    notice, warn = "", False
    if request.query.get("done") == "answered":
        reason = request.query.get("reason", "")
        warn = reason in answers.REASONS
        notice = answers.REASONS.get(reason, DELIVERED)
    return render(
        request, "feedback.html", user, status=status, title="居民留言", items=items,
        total=total, tab=tab, tabs=TABS, q=text, page=number,
        pages=max(1, -(-total // PER_PAGE)), overdue=await overdue_count(now),
        reach={f.id: _reachability(residents.get(f.openid), now) for f in items},
        clocks={f.id: _clock(f, now) for f in items},
        answers=await _latest_answers([f.id for f in items]), notice=notice, warn=warn,
        error=error, reasons=answers.REASONS, max_answer=answers.MAX_ANSWER,
        answer_roles=answers.ANSWER_ROLES, visible=answers.visible_to(user.token.role),
    )  # fmt: skip


@action(*answers.ANSWER_ROLES)
async def answer(request: web.Request, user: User, form: Any) -> web.StreamResponse:
    try:
        outcome = await answers.answer_feedback(
            request.app[SERVICES], record_id(request), str(form.get("answer", "")), who(user)
        )
    except DomainError as exc:
        return await _view(request, user, error=exc.message, status=status_of(exc))
    raise back("/admin/feedback", status="answered", done="answered", reason=outcome.reason)
