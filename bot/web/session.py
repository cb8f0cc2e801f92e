"""Console sessions on the web edge: the cookie, the request's session, CSRF tokens.

The session itself lives on the server (``bot.accounts.sessions``: a table
every web process shares); the cookie carries only its random id, so logout,
a password change or disabling the account ends it everywhere at once. Each
session has its own random CSRF token; the log-in form, before any session
exists, uses a double-submit token (a random cookie repeated in the form).
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web

from bot.accounts import sessions
from bot.accounts.models import Account, StaffSession
from bot.audit import Actor
from bot.config import Role
from bot.web.keys import SETTINGS

COOKIE = "policybot_console"
LOGIN_COOKIE = "policybot_login"  # pre-session token: the log-in form has a CSRF token too
LOGIN_MAX_AGE = 1800
_LOADED = "policybot.session"  # one lookup per request


@dataclass(frozen=True)
class Grant:
    """What ``Session.token`` offered when the console logged in with API tokens."""

    role: Role


@dataclass(frozen=True)
class Session:
    """The logged-in member of staff, as pages and actions see them."""

    account_id: int
    name: str
    role: Role
    department: str
    csrf: str
    must_change_password: bool
    address: str

    @property
    def actor(self) -> Actor:
        return Actor(self.name, self.role.value, self.address)

    @property
    def token(self) -> Grant:
        """``user.token.role`` keeps working for pages written against the token log-in."""
        return Grant(self.role)


def address(request: web.Request) -> str:
    """The client's address: behind ``admin.trusted_proxies``, the last hop they did not add.

    The lockout counts per address and the audit trail records it, so a proxy's
    own address must not stand for everyone, and a client must not choose its own.
    """
    remote = request.remote or ""
    proxies = [ipaddress.ip_network(p) for p in request.app[SETTINGS].admin.trusted_proxies]
    if not _within(remote, proxies):
        return remote
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",")]
    return next((h for h in reversed(hops) if h and not _within(h, proxies)), remote)[:64]


def _within(host: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def _idle(request: web.Request) -> timedelta:
    return timedelta(minutes=request.app[SETTINGS].admin.session_idle_minutes)


def _secure(request: web.Request) -> bool:
    return request.app[SETTINGS].server.base_url.startswith("https://")


def _session(request: web.Request, row: StaffSession, account: Account) -> Session:
    return Session(
        account_id=account.id, name=account.name, role=Role(account.role),
        department=account.department, csrf=row.csrf,
        must_change_password=account.must_change_password, address=address(request),
    )  # fmt: skip


async def start(request: web.Request, response: web.StreamResponse, account: Account) -> Session:
    """Log ``account`` in: a new server-side session and its cookie on ``response``.

    The session the browser had before, if any, ends: a new log-in never inherits one."""
    await sessions.end(request.cookies.get(COOKIE, ""))
    raw, row = await sessions.open_session(account, address(request), _idle(request))
    response.set_cookie(
        COOKIE,
        raw,
        path="/admin",
        httponly=True,
        samesite="Strict",
        secure=_secure(request),
    )  # fmt: skip  (no max_age: the browser forgets it on close; the server ends it when idle)
    response.del_cookie(LOGIN_COOKIE, path="/admin")
    user = _session(request, row, account)
    request[_LOADED] = user
    return user


async def end(request: web.Request, response: web.StreamResponse) -> None:
    """End this request's session on the server and drop the cookie."""
    await sessions.end(request.cookies.get(COOKIE, ""))
    request[_LOADED] = None
    response.del_cookie(COOKIE, path="/admin")


async def current(request: web.Request, *, pending: bool = False) -> Session | None:
    """The live session of this request, or None (missing, ended, idle, account disabled).

    A session whose password must be changed first counts only with ``pending``
    (the password page and logout); every other page sends it to log-in, which
    sends it on to the password page.
    """
    if _LOADED not in request:
        found = await sessions.load(request.cookies.get(COOKIE, ""), _idle(request))
        request[_LOADED] = _session(request, *found) if found else None
    user: Session | None = request[_LOADED]
    if user is not None and user.must_change_password and not pending:
        return None
    return user


def csrf_token(request: web.Request, session: Session) -> str:
    return session.csrf


def csrf_ok(request: web.Request, session: Session, presented: str) -> bool:
    return bool(presented) and secrets.compare_digest(presented.encode(), session.csrf.encode())


def new_login_nonce() -> str:
    return secrets.token_urlsafe(24)


def set_login_nonce(request: web.Request, response: web.StreamResponse, nonce: str) -> None:
    response.set_cookie(
        LOGIN_COOKIE, nonce, max_age=LOGIN_MAX_AGE, path="/admin", httponly=True,
        samesite="Strict", secure=_secure(request),
    )  # fmt: skip


def login_csrf_ok(request: web.Request, presented: str) -> bool:
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    return bool(nonce and presented) and secrets.compare_digest(presented.encode(), nonce.encode())
