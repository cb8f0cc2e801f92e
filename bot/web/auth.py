"""Bearer tokens for the admin API, each with a role (``admin.api_tokens``).

``require_role(request, "publisher")`` is the one check every admin route
makes: a missing or unknown token is 401, a token whose role is not allowed
is 403; ``admin`` may do everything. Tokens are compared in constant time.

Guessing is slowed per client address (``client_address``): ``admin.auth_failures_per_minute`` wrong
tokens from one address and it gets 429 with ``Retry-After`` until the
minute is over, counted through Redis or the database so every process
shares the count.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot import throttle
from bot.audit import Actor
from bot.config import ApiToken, Role, Settings
from bot.keys import SERVICES, SETTINGS
from bot.web.errors import api_error

FAILURE_WINDOW = 60  # seconds


def require_role(request: web.Request, *roles: Role | str) -> ApiToken:
    """The token of this request, if its role is one of ``roles`` (none given: any role)."""
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    settings = request.app[SETTINGS]
    token = find_token(settings, presented.strip()) if scheme.lower() == "bearer" else None
    if token is None:
        raise api_error(
            401,
            "缺少或无效的访问令牌（Authorization: Bearer …）",
            headers={"WWW-Authenticate": 'Bearer realm="policybot"'},
        )
    allowed = {Role(r) for r in roles}
    if allowed and token.role not in allowed and token.role != Role.admin:
        names = "、".join(sorted(r.value for r in allowed))
        raise api_error(403, f"该操作需要以下角色之一：{names}")
    return token


def actor(token: ApiToken) -> Actor:
    """How a token holder appears in the audit trail."""
    return Actor(token.name or f"{token.role.value}-token", token.role.value)


def find_token(settings: Settings, presented: str) -> ApiToken | None:
    """The configured token equal to ``presented`` (the API's bearer, the console's password)."""
    if not presented:
        return None
    found = None
    for token in settings.admin.api_tokens:
        # Compare against every token so timing does not reveal which one matched.
        if secrets.compare_digest(token.token.get_secret_value().encode(), presented.encode()):
            found = token
    return found


@web.middleware
async def throttle_failed_bearer(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Refuse an address that sent too many wrong bearer tokens this minute (admin API)."""
    if not request.path.startswith("/api/v1/admin/"):
        return await handler(request)
    services = request.app.get(SERVICES)
    redis = services.redis if services is not None else None
    key = f"bearer-failures:{client_address(request)}"
    limit = request.app[SETTINGS].admin.auth_failures_per_minute
    window = await throttle.peek(redis, key, FAILURE_WINDOW)
    if window.count >= limit:
        raise _too_many(window.retry_after)
    try:
        return await handler(request)
    except web.HTTPUnauthorized:
        await throttle.hit(redis, key, FAILURE_WINDOW)
        raise


def client_address(request: web.Request) -> str:
    """The client's address: the peer's, or behind a trusted reverse proxy (``server.
    trusted_proxies``, addresses or networks) the nearest ``X-Forwarded-For`` hop that is
    not a trusted proxy. Anyone else's ``X-Forwarded-For`` is ignored, so a client can
    neither dodge the bearer count and the log-in lockout nor choose its audited address."""
    peer = request.remote or "unknown"
    trusted = [ipaddress.ip_network(p) for p in request.app[SETTINGS].server.trusted_proxies]
    if not _within(peer, trusted):
        return peer
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",")]
    return next((h for h in reversed(hops) if h and not _within(h, trusted)), peer)[:64]


def _within(host: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def _too_many(retry_after: int) -> web.HTTPException:
    return api_error(
        429,
        f"错误的访问令牌过多，请 {retry_after} 秒后再试",
        headers={"Retry-After": str(retry_after)},
    )
