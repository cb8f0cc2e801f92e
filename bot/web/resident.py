"""Who a resident is on our H5 pages: WeChat's web authorisation (网页授权, ``snsapi_base``).

A page that needs the resident's openid sends them to WeChat's authorize page
(``participation.oauth_authorize_url``); WeChat sends them back to
``/wechat/oauth`` with a one-time code, which we exchange for the openid
(``WeChatAPI.oauth_openid``) and keep in a signed cookie. ``snsapi_base`` is
silent (no consent screen) and gives nothing but the openid. Forms carry a
token bound to that openid, so another site cannot post as the resident.
"""

from __future__ import annotations

import secrets
import time
from urllib.parse import urlencode

from aiohttp import web

from bot.keys import SERVICES, SETTINGS
from bot.web import session
from bot.wechat.errors import WeChatError

COOKIE = "policybot_resident"
MAX_AGE = 30 * 24 * 3600
CALLBACK = "/wechat/oauth"


def current_openid(request: web.Request) -> str | None:
    raw = request.cookies.get(COOKIE, "")
    body, _, mac = raw.rpartition(".")
    if not body or not session.signed_ok(request, "resident", body, mac):
        return None
    openid, _, expires = body.rpartition("|")
    if not openid or not expires.isdigit() or int(expires) < time.time():
        return None
    return openid


def form_token(request: web.Request, openid: str) -> str:
    return session.sign(request, "resident-form", openid)


def form_token_ok(request: web.Request, openid: str, presented: str) -> bool:
    return session.signed_ok(request, "resident-form", openid, presented)


def _safe_next(value: str) -> str:
    return value if value.startswith("/") and not value.startswith("//") and "\\" not in value else "/consultations"  # fmt: skip


def authorize_url(request: web.Request, next_path: str) -> str:
    """WeChat's authorize page, coming back to ``next_path`` (one of our pages)."""
    settings = request.app[SETTINGS]
    next_path = _safe_next(next_path)
    redirect = f"{settings.server.base_url}{CALLBACK}?{urlencode({'next': next_path})}"
    query = urlencode({"appid": settings.wechat.appid, "redirect_uri": redirect,
                       "response_type": "code", "scope": "snsapi_base",
                       "state": session.sign(request, "oauth", next_path)[:16]})  # fmt: skip
    return f"{settings.participation.oauth_authorize_url}?{query}#wechat_redirect"


def can_authorize(request: web.Request) -> bool:
    return request.app[SERVICES].api.enabled


async def oauth_callback(request: web.Request) -> web.StreamResponse:
    """WeChat sent the resident back: exchange the code, remember the openid, go on."""
    next_path = _safe_next(request.query.get("next", ""))
    state = request.query.get("state", "")
    expected = session.sign(request, "oauth", next_path)[:16]
    code = request.query.get("code", "")
    if not code or not secrets.compare_digest(state.encode(), expected.encode()):
        raise web.HTTPBadRequest(text="授权信息无效，请从公众号菜单重新打开页面。")
    try:
        openid = await request.app[SERVICES].api.oauth_openid(code)
    except WeChatError:
        raise web.HTTPBadRequest(
            text="微信授权失败或已过期，请从公众号菜单重新打开页面。"
        ) from None
    body = f"{openid}|{int(time.time()) + MAX_AGE}"
    value = f"{body}.{session.sign(request, 'resident', body)}"
    response = web.HTTPSeeOther(next_path)
    response.set_cookie(COOKIE, value, max_age=MAX_AGE, path="/", httponly=True, samesite="Lax",
                        secure=request.app[SETTINGS].server.base_url.startswith("https://"))  # fmt: skip
    raise response
