"""Push screens: compose, the reviewer's page with the whole campaign, approve or cancel,
live progress while it sends, the report after and retrying the failed.

The rules are ``bot.push.campaigns`` (shared with the admin API); this module
only turns forms into its calls. Lists make a fixed number of queries
whatever their length (delivery counts are one grouped query).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web
from tortoise.expressions import Subquery
from tortoise.functions import Count

from bot.catalog.models import Interpretation, Policy, Topic
from bot.config import Role
from bot.errors import DomainError, Invalid
from bot.feedback.answers import WINDOW
from bot.keys import SERVICES, SETTINGS
from bot.models import Subscriber
from bot.push import audience, campaigns, message, repeat
from bot.push.clock import month_start, utcnow
from bot.push.models import (
    Campaign,
    CampaignRun,
    CampaignState,
    Channel,
    Delivery,
    DeliveryState,
)
from bot.push.regions import known_regions
from bot.push.runtime import wake
from bot.web.console.frame import (
    User,
    action,
    back,
    can,
    local_time,
    page,
    page_number,
    record_id,
    refuse,
    render,
    who,
)
from bot.web.errors import status_of
from bot.web.responses import json_response

PER_PAGE = 30
COMPOSE_ROLES = (Role.editor,)
APPROVE_ROLES = (Role.reviewer,)
CANCEL_ROLES = (Role.editor, Role.reviewer)
RETRY_ROLES = (Role.editor, Role.reviewer)
RATE_WINDOW = dt.timedelta(seconds=10)
STATE_NAMES = {"draft": "待审核", "approved": "已审核", "scheduled": "已排期", "sending": "发送中",
               "done": "已完成", "cancelled": "已取消", "failed": "失败"}  # fmt: skip
RUN_STATES = {"pending": "等待发送", "sending": "发送中", "done": "已完成", "cancelled": "已取消",
              "missed": "已错过", "merged": "已合并", "failed": "失败"}  # fmt: skip
RUN_KINDS = {"scheduled": "计划", "test": "测试", "followup": "补发", "retry": "重试"}
CHANNEL_NAMES = {"template": "模板消息", "mass": "群发", "customer": "客服消息"}
#: channels a WeChat campaign may fall back to for the residents WeChat could not reach
FALLBACK_NAMES = {"sms": "短信", "email": "电子邮件"}
ALL_CHANNEL_NAMES = {**CHANNEL_NAMES, **FALLBACK_NAMES}
MASS_WARNING = "如公众号开启了“API群发保护”，每次群发需管理员在 30 分钟内于微信中确认，否则群发失败"
DONE = {
    "created": "推送任务已提交，等待另一位审核人审核。",
    "approved": "推送任务已审核通过并排期。",
    "cancelled": "推送任务已取消。",
    "retried": "失败的消息已重新排队发送。",
    "tested": "测试消息已排队，只发送到您本人绑定的微信，请在手机上查看。",
}
#: may send a campaign to their own bound WeChat before approval (``campaigns.test_send``)
TEST_ROLES = COMPOSE_ROLES


# --- reading -------------------------------------------------------------------------------


async def _delivery_counts(ids: list[int]) -> dict[int, dict[str, int]]:
    """Counts by state for many campaigns in one query (test sends excluded)."""
    out = {i: {s.value: 0 for s in DeliveryState} for i in ids}
    if not ids:
        return out
    real = CampaignRun.filter(campaign_id__in=ids).exclude(kind="test").values("id")
    rows = (
        await Delivery.filter(campaign_id__in=ids, run_id__in=Subquery(real))
        .annotate(n=Count("id"))
        .group_by("campaign_id", "state")
        .values("campaign_id", "state", "n")
    )
    for row in rows:
        out[row["campaign_id"]][str(row["state"])] = row["n"]
    return out


async def _topic_names() -> dict[str, str]:
    return dict(await Topic.all().order_by("position").values_list("id", "name"))


def audience_words(aud: dict[str, Any], topic_names: dict[str, str]) -> str:
    """``{topics: [relief], regions: [东山镇]}`` → ``订阅“救助”的居民，且在东山镇``."""
    if aud.get("everyone"):
        return "全部关注公众号的居民"
    parts = []
    if aud.get("topics"):
        names = "、".join(f"“{topic_names.get(t, t)}”" for t in aud["topics"])
        parts.append(f"订阅{names}的居民")
    if aud.get("regions"):
        towns = "、".join(aud["regions"])
        parts.append(("且在" if parts else "在") + towns)
    return "，".join(parts) or "（无）"


async def _mass_used(now: dt.datetime, tz: Any) -> int:
    """Mass sends started this local month (each counts against every recipient's quota)."""
    return (
        await CampaignRun.filter(
            campaign__channel=Channel.mass, started_at__gte=month_start(now, tz)
        )
        .exclude(kind="test")
        .count()
    )


async def _costs(request: web.Request) -> dict[str, str]:
    """What each channel costs, in words, for the compose form and the review page."""
    settings = request.app[SETTINGS]
    now = utcnow()
    quota = settings.push.mass_monthly_quota
    used = await _mass_used(now, settings.server.tz)
    active = await Subscriber.filter(
        following=True, blocked_reason__isnull=True, last_active_at__gte=now - WINDOW
    ).count()
    return {
        "template": "每位居民一条模板消息，不占用群发次数；需在公众号后台添加模板。",
        "mass": f"本月已群发 {used} 次，每位居民每月最多收到 {quota} 次群发"
        f"（剩 {max(0, quota - used)} 次）。{MASS_WARNING}。",
        "customer": f"只能送达 48 小时内给公众号发过消息的居民（当前 {active} 人），其他人会被跳过。",
        "sms": f"按条计费；每天最多发送 {settings.sms.daily_limit} 条，超出的顺延到次日。"
        if settings.sms.enabled
        else "未配置短信（[sms]），不可选。",
        "email": "只发给留了邮箱并同意接收的居民，每封邮件都带退订链接。"
        if settings.email.enabled
        else "未配置邮件（[email]），不可选。",
    }


def _quiet_hours(request: web.Request) -> str:
    spec = request.app[SETTINGS].push.quiet_hours
    if not spec:
        return "未设置免打扰时段。"
    return f"免打扰时段 {spec}：该时段内不发送，顺延到时段结束后发送。"


@page
async def campaign_list(request: web.Request, user: User) -> web.Response:
    state = request.query.get("state", "")
    state = state if state in STATE_NAMES else ""
    number = page_number(request)
    total, rows = await campaigns.list_campaigns(
        state or None, limit=PER_PAGE, offset=(number - 1) * PER_PAGE
    )
    topic_names = await _topic_names()
    return render(
        request, "campaigns.html", user, title="推送任务", items=rows, state=state,
        counts=await _delivery_counts([c.id for c in rows]), states=STATE_NAMES,
        channels=ALL_CHANNEL_NAMES, words=lambda a: audience_words(a, topic_names),
        total=total, page=number, pages=max(1, -(-total // PER_PAGE)),
        notice=DONE.get(request.query.get("done", ""), ""), compose_roles=COMPOSE_ROLES,
        describe=repeat.describe, mass_warning=MASS_WARNING,
    )  # fmt: skip


async def _preview(campaign: Campaign, request: web.Request) -> dict[str, Any]:
    """Exactly what residents will see, per channel."""
    msg = await message.build(campaign, request.app[SETTINGS])
    data = msg.template_data(utcnow().astimezone(request.app[SETTINGS].server.tz))
    return {"plain": msg.plain(), "url": msg.url, "title": msg.title,
            "template": [(k, v["value"]) for k, v in data.items()]}  # fmt: skip


async def _link_title(campaign: Campaign) -> str:
    if campaign.interpretation_id:
        interp = await Interpretation.get_or_none(id=campaign.interpretation_id)
        return (
            f"解读：{interp.title}" if interp else f"解读 {campaign.interpretation_id}（已不存在）"
        )
    if campaign.policy_id:
        policy = await Policy.get_or_none(id=campaign.policy_id)
        return f"政策：{policy.title}" if policy else f"政策 {campaign.policy_id}（已不存在）"
    return ""


@page
async def campaign_page(request: web.Request, user: User) -> web.Response:
    return await _detail(request, user)


async def _detail(
    request: web.Request, user: User, error: str = "", status: int = 200
) -> web.Response:
    campaign = await Campaign.get_or_none(id=record_id(request))
    if campaign is None:
        return refuse(request, user, "没有这个推送任务。", 404)
    report = await campaigns.report(campaign, failures_limit=20, with_new_audience=False)
    when = local_time(request)
    runs = [
        {**r, "when": when(dt.datetime.fromisoformat(r["scheduled_for"])),
         "state_name": RUN_STATES.get(r["state"], r["state"]), "kind_name": RUN_KINDS.get(r["kind"], r["kind"])}
        for r in report["runs"]
    ]  # fmt: skip
    topic_names = await _topic_names()
    return render(
        request, "campaign.html", user, status=status, title=f"推送任务：{campaign.title}",
        c=campaign, version_hash=campaigns.campaign_hash(campaign), report=report, runs=runs,
        preview=await _preview(campaign, request),
        link_title=await _link_title(campaign), words=audience_words(campaign.audience, topic_names),
        states=STATE_NAMES, channels=ALL_CHANNEL_NAMES, cost=(await _costs(request))[campaign.channel.value],
        quiet=_quiet_hours(request), repeat=repeat.describe(campaign.cron), error=error,
        notice=DONE.get(request.query.get("done", ""), ""), approve_roles=APPROVE_ROLES,
        cancel_roles=CANCEL_ROLES, retry_roles=RETRY_ROLES, test_roles=TEST_ROLES,
        cancellable=campaign.state in campaigns.CANCELLABLE, draft=CampaignState.draft,
        live=campaign.state in (CampaignState.scheduled, CampaignState.sending),
    )  # fmt: skip


@page
async def progress(request: web.Request, user: User) -> web.Response:
    """Polled by the campaign page while it sends: counts, rate per second, state."""
    campaign = await Campaign.get_or_none(id=record_id(request))
    if campaign is None:
        raise web.HTTPNotFound()
    counts = (await _delivery_counts([campaign.id]))[campaign.id]
    recent = await Delivery.filter(
        campaign_id=campaign.id, state=DeliveryState.sent, sent_at__gte=utcnow() - RATE_WINDOW
    ).count()
    return json_response({
        "state": campaign.state.value, "state_name": STATE_NAMES[campaign.state.value],
        "counts": counts, "rate": round(recent / RATE_WINDOW.total_seconds(), 1),
    })  # fmt: skip


# --- composing -----------------------------------------------------------------------------


def _link(raw: str) -> dict[str, str]:
    """``policy:ID`` / ``interpretation:ID`` from the picker (or a bare policy id typed in)."""
    kind, _, ident = raw.strip().partition(":")
    if not ident:
        return {"policy_id": kind} if kind else {}
    if kind not in ("policy", "interpretation"):
        raise Invalid("invalid", "关联内容应为政策或解读")
    return {f"{kind}_id": ident}


def _form_to_data(form: Any, request: web.Request) -> dict[str, Any]:
    """The compose form as the body ``campaigns.create`` takes (the admin API's shape)."""
    aud: dict[str, Any] = {
        "topics": form.getall("topics", []),
        "regions": form.getall("regions", []),
    }
    if form.get("everyone"):
        aud = {"everyone": True}
    data: dict[str, Any] = {
        "title": str(form.get("title", "")), "text": str(form.get("text", "")),
        "channel": str(form.get("channel", "")), "audience": aud, **_link(str(form.get("link", ""))),
        "fallback": form.getall("fallback", []),
    }  # fmt: skip
    when = str(form.get("when", "now"))
    if when == "at":
        if not form.get("send_at"):
            raise Invalid("invalid", "请填写定时发送的时间")
        data["send_at"] = str(form["send_at"])
    elif when == "repeat":
        data["cron"] = repeat.to_cron(
            str(form.get("repeat", "")), str(form.get("repeat_at", "")),
            str(form.get("repeat_weekday", "mon")), str(form.get("repeat_day", "1")),
        )  # fmt: skip
    return data


async def _compose_view(
    request: web.Request, user: User, form: Any = None, error: str = "", status: int = 200
) -> web.Response:
    settings = request.app[SETTINGS]
    values = form or {}
    return render(
        request, "compose.html", user, status=status, title="新建推送任务", error=error,
        topics=await Topic.all().order_by("position"), regions=await known_regions(),
        costs=await _costs(request), channels=CHANNEL_NAMES, quiet=_quiet_hours(request),
        fallbacks=FALLBACK_NAMES,
        configured={"sms": settings.sms.enabled, "email": settings.email.enabled},
        weekdays=repeat.WEEKDAYS, repeats=repeat.KINDS, v=lambda k, d="": str(values.get(k, d)),
        chosen=lambda k: values.getall(k, []) if hasattr(values, "getall") else [],
        tz=settings.server.timezone,
    )  # fmt: skip


@page
async def compose_page(request: web.Request, user: User) -> web.Response:
    if not can(user, *COMPOSE_ROLES):
        return refuse(request, user, "只有编辑可以新建推送任务。")
    return await _compose_view(request, user)


@action(*COMPOSE_ROLES)
async def create(request: web.Request, user: User, form: Any) -> web.StreamResponse:
    try:
        campaign = await campaigns.create(
            _form_to_data(form, request), who(user), request.app[SETTINGS]
        )
    except DomainError as exc:
        return await _compose_view(request, user, form, exc.message, status_of(exc))
    raise back(f"/admin/campaigns/{campaign.id}", done="created")


@action(*COMPOSE_ROLES)
async def preview(request: web.Request, user: User, form: Any) -> web.Response:
    """The compose form's live preview and audience count (JSON, same rules as saving)."""
    try:
        data = _form_to_data(form, request)
        aud = await audience.normalise(data["audience"], await known_regions())
    except (DomainError, audience.AudienceError) as exc:
        return json_response({"error": getattr(exc, "message", str(exc))}, status=422)
    draft = Campaign(title=data["title"] or "（标题）", text=data["text"],
                     policy_id=data.get("policy_id"), interpretation_id=data.get("interpretation_id"))  # fmt: skip
    return json_response(
        {"audience_count": await audience.count(aud), **await _preview(draft, request)}
    )


# --- steps ---------------------------------------------------------------------------------


async def _step(request: web.Request, user: User, run: Any, done: str) -> web.StreamResponse:
    try:
        await run
    except DomainError as exc:
        return await _detail(request, user, error=exc.message, status=status_of(exc))
    await wake(request.app[SERVICES])
    raise back(f"/admin/campaigns/{record_id(request)}", done=done)


@action(*APPROVE_ROLES)
async def approve(request: web.Request, user: User, form: Any) -> web.StreamResponse:
    seen = str(form.get("version_hash", ""))  # what the reviewer read; the page always sends it
    run = campaigns.approve(record_id(request), who(user), seen)
    return await _step(request, user, run, "approved")


@page
async def cancel_confirm(request: web.Request, user: User) -> web.Response:
    """``取消推送`` asks first, on its own page (works without JavaScript, and by keyboard)."""
    campaign = await Campaign.get_or_none(id=record_id(request))
    if campaign is None:
        return refuse(request, user, "没有这个推送任务。", 404)
    counts = (await _delivery_counts([campaign.id]))[campaign.id]
    return render(request, "cancel.html", user, title="确认取消推送", c=campaign, counts=counts,
                  states=STATE_NAMES, cancel_roles=CANCEL_ROLES)  # fmt: skip


@action(*CANCEL_ROLES)
async def cancel(request: web.Request, user: User, form: Any) -> web.StreamResponse:
    return await _step(request, user, campaigns.cancel(record_id(request), who(user)), "cancelled")


@action(*RETRY_ROLES)
async def retry(request: web.Request, user: User, form: Any) -> web.StreamResponse:
    return await _step(
        request, user, campaigns.retry_failed(record_id(request), who(user)), "retried"
    )


@action(*TEST_ROLES)
async def test_send(request: web.Request, user: User, form: Any) -> web.StreamResponse:
    """``发送测试``: the message to the editor's own bound WeChat only (rate-limited, audited);
    a refusal (not bound yet: bind in 我的账号) is shown on the campaign page."""
    run = campaigns.test_send(record_id(request), None, who(user))
    return await _step(request, user, run, "tested")
