"""The dashboard: what needs this user's attention today, by role, each one click away."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from aiohttp import web

from bot.catalog import publishing
from bot.catalog.deadlines import deadline_report, stored_calendar
from bot.catalog.models import Disclosure, Policy, Status
from bot.config import Role
from bot.feedback.answers import ANSWER_ROLES, REPLY_TARGET
from bot.keys import SETTINGS
from bot.models import Feedback, FeedbackStatus
from bot.participation.requests import due_counts as disclosure_due
from bot.push.models import Campaign, CampaignState
from bot.web.console.disclosure import DUE_SOON, HANDLING
from bot.web.console.frame import User, can, page, render
from bot.web.console.policies import WRITE_ROLES
from bot.web.console.review import PUBLISH_ROLES
from bot.web.modes import today

DEADLINES_SHOWN = 20
# 20 working days never span more than this many calendar days (long holidays included), so
# a proactive policy written earlier and still unpublished is late without asking the calendar.
RECENT_DAYS = 60


@dataclass(frozen=True)
class Card:
    key: str
    count: int
    label: str
    href: str
    urgent: bool = False


@page
async def dashboard(request: web.Request, user: User) -> web.Response:
    now = dt.datetime.now(dt.UTC)
    recent = today(request) - dt.timedelta(days=RECENT_DAYS)
    tz = request.app[SETTINGS].server.tz
    at_risk = await deadline_report(await stored_calendar(), today(request), since=recent, tz=tz)
    older_late = await Policy.filter(
        disclosure=Disclosure.proactive,
        status__in=(Status.draft, Status.review),
        written_on__lt=recent,
    ).count()
    cards: list[Card] = []
    if can(user, *PUBLISH_ROLES):
        in_review, _ = await publishing.list_by_state(Status.review, 1, 0)  # corrections too
        cards.append(Card("review", in_review, "份政策待审核发布", "/admin/review"))
        cards.append(Card("campaigns", await Campaign.filter(state=CampaignState.draft).count(),
                          "个推送任务待审核", "/admin/campaigns?state=draft"))  # fmt: skip
    if can(user, *WRITE_ROLES):
        drafts, _ = await publishing.list_by_state(Status.draft, 1, 0)
        cards.append(Card("drafts", drafts, "份政策草稿未提交", "/admin/policies?status=draft"))
    if can(user, *ANSWER_ROLES):
        new = Feedback.filter(status=FeedbackStatus.new)
        overdue = await new.filter(created_at__lt=now - REPLY_TARGET).count()
        cards.append(Card("overdue", overdue, "条留言超过 48 小时未答复",
                          "/admin/feedback?status=overdue", urgent=overdue > 0))  # fmt: skip
        cards.append(Card("feedback", await new.count(), "条留言待答复", "/admin/feedback"))
    if can(user, Role.editor):
        cards.append(Card("sending", await Campaign.filter(state=CampaignState.sending).count(),
                          "个推送正在发送", "/admin/campaigns?state=sending"))  # fmt: skip
    if can(user, *HANDLING):
        due = await disclosure_due(today(request), DUE_SOON)
        late_requests = due["requests_late"]
        cards.append(Card("requests-late", late_requests, "件公开申请答复逾期",
                          "/admin/disclosure#group-late", urgent=late_requests > 0))  # fmt: skip
        cards.append(Card("requests-soon", due["requests_soon"],
                          f"件公开申请 {DUE_SOON} 个工作日内到期", "/admin/disclosure#group-soon"))  # fmt: skip
    late = sum(1 for d in at_risk if d.state == "late") + older_late
    cards.append(Card("late", late, "份政策公开逾期", "#deadlines", urgent=late > 0))
    cards.append(
        Card("at-risk", len(at_risk) + older_late - late, "份政策临近公开时限", "#deadlines")
    )
    return render(request, "dashboard.html", user, title="概览", cards=cards,
                  deadlines=at_risk[:DEADLINES_SHOWN], older_late=older_late)  # fmt: skip
