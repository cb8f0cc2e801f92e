"""Admin API: contacts a resident gave staff (phone, email), recorded with consent.

HTTP glue only; the rules live in ``bot.contacts``. The answer shows the
contacts masked, as the console does.
"""

from __future__ import annotations

from aiohttp import web

from bot import contacts
from bot.config import Role
from bot.web import params
from bot.web.auth import actor, require_role
from bot.web.openapi import document


@document(body="ContactBody", response="Contact")
async def put_contact(request: web.Request) -> web.Response:
    """Record a phone and/or email a resident gave on paper, with their consent (editor)."""
    token = require_role(request, Role.editor)
    openid = params.path_key(request, "openid", "居民")
    shown = await contacts.record_from_staff(
        openid, await params.json_object(request), actor(token)
    )
    return web.json_response(shown)
