"""Admin API, campaign part: create, approve, cancel, test-send, report,
retry failed, send to new subscribers; and the subscriber list.

HTTP glue only: roles are checked with ``require_role``, the rules live in
``bot.push.campaigns``. Editors write campaigns; reviewers (not the author)
approve; either may cancel. After a change the push runtime of this process,
if any, is woken; a separate worker process notices within seconds.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web
from tortoise.expressions import Subquery

from bot.config import Role
from bot.keys import SERVICES, SETTINGS
from bot.models import Subscriber, Subscription
from bot.push import audience, campaigns
from bot.push.models import CampaignState
from bot.push.regions import known_regions
from bot.push.runtime import wake
from bot.web import params
from bot.web.auth import actor, require_role
from bot.web.errors import api_error
from bot.web.openapi import document

PREFIX = "/api/v1/admin"
MAX_PER_PAGE = 200


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = orjson.loads(await request.read() or b"{}")
    except orjson.JSONDecodeError:
        raise api_error(400, "请求体不是有效的 JSON") from None
    if not isinstance(data, dict):
        raise api_error(400, "请求体应为 JSON 对象")
    return data


def _id(request: web.Request) -> int:
    return params.path_id(request, what="推送任务")


async def _wake_workers(request: web.Request) -> None:
    services = request.app.get(SERVICES)
    if services is not None:
        await wake(services)


@document(body="CampaignBody", response="Object")
async def create_campaign(request: web.Request) -> web.Response:
    """Create a draft campaign with its message, audience, channel and schedule (editor)."""
    token = require_role(request, Role.editor)
    settings = request.app[SETTINGS]
    campaign = await campaigns.create(await _body(request), actor(token), settings)
    data = {
        "id": campaign.id,
        "state": campaign.state.value,
        "audience_count": campaign.audience_count,
    }
    if campaign.channel == "mass":
        data["warning"] = campaigns.MASS_PROTECTION_WARNING
    return web.json_response(data, status=201)


@document(params={"state": "按状态筛选", "page": "页码", "per_page": "每页条数"}, response="Object")
async def list_campaigns(request: web.Request) -> web.Response:
    """Campaigns, newest first."""
    require_role(request)
    page, per_page = params.paging(request, 50, MAX_PER_PAGE)
    total, rows = await campaigns.list_campaigns(
        params.choice(request, "state", CampaignState), per_page, (page - 1) * per_page
    )
    items = [
        {"id": c.id, "title": c.title, "state": c.state.value, "channel": c.channel.value,
         "audience_count": c.audience_count, "author": c.author, "approver": c.approver}
        for c in rows
    ]  # fmt: skip
    return web.json_response({"total": total, "page": page, "items": items})


@document(response="Object")
async def get_campaign(request: web.Request) -> web.Response:
    """A campaign with its live audience count and delivery counts by state."""
    require_role(request)
    campaign = await campaigns.get(_id(request))
    return web.json_response(await campaigns.summary(campaign))


@document(response="Object")
async def campaign_report(request: web.Request) -> web.Response:
    """Counts by state and error code, the failures, every run, and residents who joined since."""
    require_role(request)
    campaign = await campaigns.get(_id(request))
    return web.json_response(await campaigns.report(campaign))


@document(body="ApproveBody", response="Object")
async def approve_campaign(request: web.Request) -> web.Response:
    """Approve and schedule a draft (reviewer, not its author), as seen: ``version_hash``."""
    token = require_role(request, Role.reviewer)
    seen = (await _body(request)).get("version_hash")
    campaign = await campaigns.approve(
        _id(request), actor(token), seen if isinstance(seen, str) else None
    )
    await _wake_workers(request)
    return web.json_response({"id": campaign.id, "state": campaign.state.value})


@document(response="Object")
async def cancel_campaign(request: web.Request) -> web.Response:
    """Cancel a campaign, stopping a send in progress within seconds (editor or reviewer)."""
    token = require_role(request, Role.editor, Role.reviewer)
    campaign = await campaigns.cancel(_id(request), actor(token))
    await _wake_workers(request)
    return web.json_response({"id": campaign.id, "state": campaign.state.value})


@document(body="TestSendBody", response="Object")
async def test_send(request: web.Request) -> web.Response:
    """Send the message now, before approval, to the sender's own bound WeChat or to registered
    testers (``openids``: their openids or names); 10 a day per account (editor or reviewer)."""
    token = require_role(request, Role.editor, Role.reviewer)
    body = await _body(request)
    run = await campaigns.test_send(_id(request), body.get("openids"), actor(token))
    await _wake_workers(request)
    return web.json_response(
        {"id": _id(request), "run_id": run.id, "recipients": run.total}, status=202
    )


@document(response="Object")
async def retry_failed(request: web.Request) -> web.Response:
    """Queue failed deliveries again, for residents who can still be reached (editor or reviewer)."""
    token = require_role(request, Role.editor, Role.reviewer)
    count = await campaigns.retry_failed(_id(request), actor(token))
    await _wake_workers(request)
    campaign = await campaigns.get(_id(request))
    return web.json_response({"id": campaign.id, "state": campaign.state.value, "retried": count})


@document(response="Object")
async def send_to_new(request: web.Request) -> web.Response:
    """Send a finished campaign to residents who joined its audience since (editor)."""
    token = require_role(request, Role.editor)
    campaign = await campaigns.get(_id(request))
    waiting = await campaigns.new_audience_count(campaign)
    run = await campaigns.send_to_new(campaign.id, actor(token))
    await _wake_workers(request)
    return web.json_response(
        {"id": campaign.id, "run_id": run.id, "audience_count": waiting}, status=202
    )


@document(body="AudienceBody", response="Object")
async def count_audience(request: web.Request) -> web.Response:
    """How many residents an audience ``{topics?, regions?, everyone?}`` reaches now."""
    require_role(request, Role.editor, Role.reviewer)
    body = await _body(request)
    try:
        aud = await audience.normalise(body.get("audience", body), await known_regions())
    except audience.AudienceError as exc:
        raise api_error(422, str(exc)) from None
    data: dict[str, Any] = {"audience": aud, "audience_count": await audience.count(aud)}
    data.update(await _channel_costs(body, aud, request.app[SETTINGS]))
    return web.json_response(data)


async def _channel_costs(
    body: dict[str, Any], aud: dict[str, Any], settings: Any
) -> dict[str, Any]:
    """SMS and email reach and limits when the body names them (``channel`` or ``fallback``)."""
    from bot import contacts
    from bot.push.channels import sms

    wanted = {str(body.get("channel") or "")} | set(body.get("fallback") or [])
    openids = Subquery(audience.query(aud).values("openid"))
    out: dict[str, Any] = {}
    if "sms" in wanted:
        out["sms"] = await sms.estimate(openids, settings)
    if "email" in wanted:
        out["email"] = {"residents_with_email": await contacts.count_reachable(openids, "email")}
    return out


@document(params={"topic": "主题 id 或名称", "region": "镇街", "page": "页码", "per_page": "每页条数"},
          response="Object")  # fmt: skip
async def list_subscribers(request: web.Request) -> web.Response:
    """Residents who follow, filtered by topic and region, with their topics."""
    require_role(request, Role.editor, Role.reviewer)
    page, per_page = params.paging(request, 50, MAX_PER_PAGE)
    query = Subscriber.filter(following=True)
    if topic_ref := request.query.get("topic"):
        from bot.push.subscriptions import find_topic

        topic = await find_topic(topic_ref)
        if topic is None:
            raise api_error(404, f"没有这个主题：{topic_ref}")
        query = query.filter(
            openid__in=Subquery(Subscription.filter(topic_id=topic.id).values("subscriber_id"))
        )
    if region := request.query.get("region"):
        query = query.filter(region=region)
    rows = await query.order_by("openid").offset((page - 1) * per_page).limit(per_page)
    openids = [s.openid for s in rows]
    topics: dict[str, list[str]] = {}
    for sub_openid, topic_id in await Subscription.filter(subscriber_id__in=openids).values_list(
        "subscriber_id", "topic_id"
    ):
        topics.setdefault(str(sub_openid), []).append(str(topic_id))
    items = [
        {"openid": s.openid, "region": s.region, "topics": sorted(topics.get(s.openid, [])),
         "followed_at": s.followed_at.isoformat() if s.followed_at else None,
         "last_active_at": s.last_active_at.isoformat() if s.last_active_at else None,
         "blocked_reason": s.blocked_reason}
        for s in rows
    ]  # fmt: skip
    return web.json_response(
        {"total": await query.count(), "page": page, "per_page": per_page, "items": items}
    )
