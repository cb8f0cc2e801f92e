"""Tracked links in notices: ``/r/{token}`` counts a delivery's first visit, then redirects.

The token is the delivery id signed with the privacy key; the visit sets one
flag on that delivery (opened) and keeps nothing else: no time, address or
browser. A link that does not check out still lands on the policy list.
"""

from __future__ import annotations

from aiohttp import web

from bot import privacy
from bot.errors import Unavailable
from bot.keys import SETTINGS
from bot.metrics import PUSH_REACH
from bot.push.message import link_of
from bot.push.models import Campaign, Delivery


async def follow(request: web.Request) -> web.Response:
    base = request.app[SETTINGS].server.base_url
    try:
        value = privacy.unsign("open", request.match_info["token"])
    except Unavailable:
        value = None
    delivery = await Delivery.get_or_none(id=int(value)) if value and value.isdigit() else None
    if delivery is None:
        raise web.HTTPFound(f"{base}/policies")
    if await Delivery.filter(id=delivery.id, opened=False).update(opened=True):
        PUSH_REACH.labels(delivery.channel.value, "opened").inc()
    campaign = await Campaign.get_or_none(id=delivery.campaign_id)
    target = (link_of(campaign, base) if campaign else None) or f"{base}/policies"
    raise web.HTTPFound(target)
