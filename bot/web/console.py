"""The staff and editor console at /admin/: login, dashboard, 留言, pushes, review.

Staff log in with their admin API token as the password; the session is a
signed cookie (``bot.web.session``). Every page is readable by every role;
roles decide which buttons show and which POSTs are accepted (403
otherwise), and every POST carries the session's CSRF token. The work is
done by the same functions as the admin API (``feedback_api``,
``bot.push.campaigns``, ``bot.catalog.publishing``), so the two cannot
disagree. Templates are Jinja2 with autoescaping: 留言 text is resident input.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any
from urllib.parse import urlencode

import jinja2
from aiohttp import web

from bot.audit import Actor
from bot.catalog import publishing
from bot.catalog.deadlines import calendar_for, deadline_report
from bot.catalog.models import Interpretation, Policy, Status
from bot.config import Role
from bot.errors import DomainError
from bot.feedback import answers
from bot.models import AuditEntry, Feedback, FeedbackStatus, Subscriber
from bot.push import campaigns
from bot.push.models import Campaign, CampaignState, Channel
from bot.push.runs import channel_counts
from bot.push.runtime import wake
from bot.web import session
from bot.web.admin_api import refresh_search
from bot.web.auth import find_token
from bot.web.errors import status_of
from bot.web.keys import SERVICES, SETTINGS
from bot.web.modes import TEMPLATES, today

log = logging.getLogger("bot.console")

PER_PAGE = 20
CAMPAIGNS_SHOWN = 50
HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}
ROLE_NAMES = {"publisher": "发布员", "editor": "编辑", "reviewer": "审核人", "admin": "管理员"}
STATE_NAMES = {"draft": "草稿（待审核）", "approved": "已审核", "scheduled": "已排期", "sending": "发送中",
               "done": "已完成", "cancelled": "已取消", "failed": "失败"}  # fmt: skip
CHANNEL_NAMES = {
    "template": "模板消息",
    "mass": "群发",
    "customer": "客服消息（48 小时内互动的居民）",
    "sms": "短信",
    "email": "电子邮件",
}
MASS_WARNING = "如公众号开启了“API群发保护”，每次群发需管理员在 30 分钟内于微信中确认，否则群发失败"
APPROVE_ROLES = (Role.reviewer,)
CANCEL_ROLES = (Role.editor, Role.reviewer)
PUBLISH_ROLES = (Role.reviewer,)
DONE = {
    "approved": "推送任务已审核通过并排期。",
    "cancelled": "推送任务已取消。",
    "published": "政策及其解读已发布。",
    "rejected": "已退回修改。",
    "delivered": "答复已记录，并已通过微信客服消息发送给居民。",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# --- plumbing ------------------------------------------------------------------------------


def _local(request: web.Request) -> Callable[[dt.datetime | None], str]:
    tz = request.app[SETTINGS].server.tz

    def fmt(value: dt.datetime | None) -> str:
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value else ""

    return fmt


@cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES / "console"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def can(user: session.Session | None, *roles: Role) -> bool:
    return user is not None and (user.token.role == Role.admin or user.token.role in roles)


def render(
    request: web.Request, template: str, user: session.Session | None, *, status: int = 200,
    **context: Any,
) -> web.Response:  # fmt: skip
    html = _env().get_template(template).render(
        user=user, csrf=session.csrf_token(request, user) if user else "", can=lambda *r: can(user, *r),
        role_names=ROLE_NAMES, local=_local(request), path=request.path, **context,
    )  # fmt: skip
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8",
                        headers=HEADERS)  # fmt: skip


def refuse(
    request: web.Request, user: session.Session | None, message: str, status: int = 403
) -> web.Response:
    return render(
        request, "message.html", user, status=status, title="无法完成操作", message=message
    )


def _back(path: str, **params: Any) -> web.HTTPSeeOther:
    query = {k: v for k, v in params.items() if v is not None}
    return web.HTTPSeeOther(f"{path}?{urlencode(query)}" if query else path, headers=HEADERS)


def _see_other(location: str) -> web.Response:
    """A 303 that can carry cookies (raising HTTPSeeOther cannot set them portably)."""
    return web.Response(status=303, headers={**HEADERS, "Location": location})


def page(
    handler: Callable[[web.Request, session.Session], Awaitable[web.StreamResponse]],
) -> Handler:
    """A GET page: logged-in users only, others go to the login form first."""

    async def wrapper(request: web.Request) -> web.StreamResponse:
        user = session.current(request)
        if user is None:
            raise _back("/admin/login", next=request.path_qs)
        return await handler(request, user)

    return wrapper


def action(*roles: Role) -> Callable[[Any], Handler]:
    """A POST form: a session, its CSRF token and one of ``roles`` (admin always), else 403."""

    def decorate(
        handler: Callable[[web.Request, session.Session, Any], Awaitable[web.StreamResponse]],
    ) -> Handler:
        async def wrapper(request: web.Request) -> web.StreamResponse:
            user = session.current(request)
            if user is None:
                return refuse(request, None, "登录已过期，请重新登录后再提交。")
            form = await request.post()
            if not session.csrf_ok(request, user, str(form.get("csrf", ""))):
                log.warning("console form without a valid CSRF token", extra={"path": request.path})
                return refuse(request, user, "表单已失效（安全校验未通过），请刷新页面后重试。")
            if roles and not can(user, *roles):
                names = "、".join(ROLE_NAMES[r.value] for r in roles)
                return refuse(request, user, f"该操作需要以下角色之一：{names}。")
            return await handler(request, user, form)

        return wrapper

    return decorate


def _id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound() from None


def _page_number(request: web.Request) -> int:
    raw = request.query.get("page", "1")
    return max(1, int(raw)) if raw.isdigit() else 1


# --- login ---------------------------------------------------------------------------------


def _next(value: str) -> str:
    """Only our own console pages: never an open redirect."""
    return (
        value
        if value.startswith("/admin/") and not value.startswith("//") and "\\" not in value
        else "/admin/"
    )


async def login_form(request: web.Request) -> web.Response:
    if session.current(request) is not None:
        raise _back(_next(request.query.get("next", "")))
    nonce = session.new_login_nonce()
    response = render(request, "login.html", None, title="登录", error="",
                      next=_next(request.query.get("next", "")),
                      login_csrf=session.login_csrf(request, nonce))  # fmt: skip
    session.set_login_nonce(request, response, nonce)
    return response


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    if not session.login_csrf_ok(request, str(form.get("csrf", ""))):
        return refuse(request, None, "登录表单已失效，请重新打开登录页。")
    target = _next(str(form.get("next", "")))
    token = find_token(request.app[SETTINGS], str(form.get("token", "")).strip())
    if token is None:
        log.warning("console login failed", extra={"remote": request.remote})
        return render(request, "login.html", None, status=401, title="登录", next=target,
                      error="令牌不正确，请重新输入。",
                      login_csrf=session.login_csrf(request, request.cookies[session.LOGIN_COOKIE]))  # fmt: skip
    response = _see_other(target)
    session.start(request, response, token)
    log.info("console login", extra={"actor": token.name, "role": token.role.value})
    return response


@action()
async def logout(request: web.Request, user: session.Session, form: Any) -> web.StreamResponse:
    response = _see_other("/admin/login")
    session.end(response)
    return response


# --- dashboard -----------------------------------------------------------------------------


@page
async def dashboard(request: web.Request, user: session.Session) -> web.Response:
    settings = request.app[SETTINGS]
    deadlines = await deadline_report(calendar_for(settings.content.dir), today(request))
    counts = {
        "feedback": await Feedback.filter(status=FeedbackStatus.new).count(),
        "review": await Policy.filter(status=Status.review).count(),
        "campaigns": await Campaign.filter(state=CampaignState.draft).count(),
        "late": sum(1 for d in deadlines if d.state == "late"),
        "at_risk": sum(1 for d in deadlines if d.state == "at_risk"),
    }
    return render(
        request, "dashboard.html", user, title="概览", counts=counts, deadlines=deadlines[:20]
    )


# --- 留言 ------------------------------------------------------------------------------------


async def _latest_answers(ids: list[int]) -> dict[int, AuditEntry]:
    entries = await AuditEntry.filter(
        object_type="feedback", action="feedback.answer", object_id__in=[str(i) for i in ids]
    ).order_by("id")
    return {int(e.object_id): e for e in entries}  # later entries overwrite earlier ones


@page
async def feedback_page(request: web.Request, user: session.Session) -> web.Response:
    return await _feedback_view(request, user)


async def _feedback_view(
    request: web.Request, user: session.Session, error: str = "", status: int = 200
) -> web.Response:
    raw = request.query.get("status", "new")
    state = FeedbackStatus(raw) if raw in FeedbackStatus.__members__ else None
    number = _page_number(request)
    total, items = await answers.list_feedback(state, number, PER_PAGE)
    openids = {f.openid for f in items}
    active = dict(
        await Subscriber.filter(openid__in=openids).values_list("openid", "last_active_at")
    )
    now = dt.datetime.now(dt.UTC)
    in_window = {o: bool(a and now - a <= answers.WINDOW) for o, a in active.items()}
    notice, warn = "", False
    if request.query.get("done") == "answered":
        reason = request.query.get("reason", "")
        warn = reason in answers.REASONS
        notice = answers.REASONS.get(reason, DONE["delivered"])
    return render(
        request, "feedback.html", user, status=status, title="居民留言", items=items, total=total,
        state=raw if state else "all", page=number, pages=max(1, -(-total // PER_PAGE)),
        in_window=in_window, answers=await _latest_answers([f.id for f in items]),
        notice=notice, warn=warn, error=error, reasons=answers.REASONS, max_answer=answers.MAX_ANSWER,
        answer_roles=answers.ANSWER_ROLES,
    )  # fmt: skip


@action(*answers.ANSWER_ROLES)
async def answer(request: web.Request, user: session.Session, form: Any) -> web.StreamResponse:
    try:
        outcome = await answers.answer_feedback(
            request.app[SERVICES],
            _id(request),
            str(form.get("answer", "")),
            Actor(user.name, user.token.role.value),
        )
    except DomainError as exc:
        return await _feedback_view(request, user, error=exc.message, status=status_of(exc))
    raise _back("/admin/feedback", status="answered", done="answered", reason=outcome.reason)


# --- campaigns -----------------------------------------------------------------------------


@page
async def campaigns_page(request: web.Request, user: session.Session) -> web.Response:
    return await _campaigns_view(request, user)


async def _campaigns_view(
    request: web.Request, user: session.Session, error: str = "", status: int = 200
) -> web.Response:
    _, rows = await campaigns.list_campaigns(limit=CAMPAIGNS_SHOWN)
    items = [
        {"c": c, "counts": await campaigns.counts(c), "audience": await campaigns.live_audience(c),
         "cancellable": c.state in campaigns.CANCELLABLE,
         "by_channel": await channel_counts(c.id)}
        for c in rows
    ]  # fmt: skip
    return render(
        request, "campaigns.html", user, status=status, title="推送任务", items=items, error=error,
        notice=DONE.get(request.query.get("done", ""), ""), states=STATE_NAMES,
        channels=CHANNEL_NAMES, mass=Channel.mass, draft=CampaignState.draft,
        mass_warning=MASS_WARNING, approve_roles=APPROVE_ROLES, cancel_roles=CANCEL_ROLES,
    )  # fmt: skip


async def _campaign_step(
    request: web.Request, user: session.Session, step: Callable[..., Awaitable[Any]], done: str
) -> web.StreamResponse:
    who = Actor(user.name, user.token.role.value)
    try:
        await step(_id(request), who)
    except DomainError as exc:
        return await _campaigns_view(request, user, error=exc.message, status=status_of(exc))
    await wake(request.app[SERVICES])
    raise _back("/admin/campaigns", done=done)


@action(*APPROVE_ROLES)
async def approve(request: web.Request, user: session.Session, form: Any) -> web.StreamResponse:
    return await _campaign_step(request, user, campaigns.approve, "approved")


@action(*CANCEL_ROLES)
async def cancel(request: web.Request, user: session.Session, form: Any) -> web.StreamResponse:
    return await _campaign_step(request, user, campaigns.cancel, "cancelled")


# --- review --------------------------------------------------------------------------------


@page
async def review_page(request: web.Request, user: session.Session) -> web.Response:
    return await _review_view(request, user)


async def _review_view(
    request: web.Request, user: session.Session, error: str = "", status: int = 200
) -> web.Response:
    policies = await Policy.filter(status=Status.review).order_by("written_on", "id")
    ids = [p.id for p in policies]
    interps: dict[str, list[Interpretation]] = {i: [] for i in ids}
    for interp in await Interpretation.filter(policy_id__in=ids).order_by("id"):
        interps[interp.policy_id].append(interp)  # type: ignore[attr-defined]
    submitted = {
        e.object_id: e
        for e in await AuditEntry.filter(
            object_type="policy", action="policy.submit", object_id__in=ids
        ).order_by("id")
    }
    return render(
        request, "review.html", user, status=status, title="待审核政策", policies=policies,
        interps=interps, submitted=submitted, error=error,
        notice=DONE.get(request.query.get("done", ""), ""), publish_roles=PUBLISH_ROLES,
    )  # fmt: skip


async def _review_step(
    request: web.Request, user: session.Session, run: Callable[[publishing.Actor], Awaitable[Any]],
    done: str,
) -> web.StreamResponse:  # fmt: skip
    try:
        await run(Actor(user.name, user.token.role.value))
    except DomainError as exc:
        return await _review_view(request, user, error=exc.message, status=status_of(exc))
    if done == "published":
        await refresh_search(request)
    raise _back("/admin/review", done=done)


@action(*PUBLISH_ROLES)
async def publish(request: web.Request, user: session.Session, form: Any) -> web.StreamResponse:
    policy_id, day = request.match_info["id"], today(request)
    return await _review_step(
        request, user, lambda who: publishing.publish(policy_id, who, day), "published"
    )


@action(*PUBLISH_ROLES)
async def reject(request: web.Request, user: session.Session, form: Any) -> web.StreamResponse:
    policy_id, reason = request.match_info["id"], str(form.get("reason", "")).strip()[:500]
    return await _review_step(
        request, user, lambda who: publishing.reject(policy_id, who, reason), "rejected"
    )


# --- routes --------------------------------------------------------------------------------


async def _to_dashboard(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/admin/")


def setup_routes(app: web.Application) -> None:
    session.setup(app)
    add_get, add_post = app.router.add_get, app.router.add_post
    add_get("/admin", _to_dashboard, name="console_root")
    add_get("/admin/", dashboard, name="console")
    add_get("/admin/login", login_form, name="console_login_form")
    add_post("/admin/login", login, name="console_login")
    add_post("/admin/logout", logout, name="console_logout")
    add_get("/admin/feedback", feedback_page, name="console_feedback")
    add_post(r"/admin/feedback/{id:\d+}/answer", answer, name="console_feedback_answer")
    add_get("/admin/campaigns", campaigns_page, name="console_campaigns")
    add_post(r"/admin/campaigns/{id:\d+}/approve", approve, name="console_campaign_approve")
    add_post(r"/admin/campaigns/{id:\d+}/cancel", cancel, name="console_campaign_cancel")
    add_get("/admin/review", review_page, name="console_review")
    add_post("/admin/review/{id}/publish", publish, name="console_review_publish")
    add_post("/admin/review/{id}/reject", reject, name="console_review_reject")
