"""Console sessions on the web edge: the cookie, the request's session, CSRF tokens.

The session itself lives on the server (``bot.accounts.sessions``: a table
every web process shares); the cookie carries only its random id, so logout,
a password change or disabling the account ends it everywhere at once. Each
session has its own random CSRF token; the log-in form, before any session
exists, uses a double-submit token (a random cookie repeated in the form).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web

from bot.accounts import sessions
from bot.accounts.models import Account, StaffSession
from bot.audit import Actor
from bot.config import Role
from bot.keys import SETTINGS
from bot.web.auth import client_address

COOKIE = "policybot_console"
LOGIN_COOKIE = "policybot_login"  # pre-session token: the log-in form has a CSRF token too
LOGIN_MAX_AGE = 1800
_LOADED = "policybot.session"  # one lookup per request

SECRET = web.AppKey("console_secret", bytes)


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


def setup(app: web.Application) -> None:
    """Fix this app's signing key for residents' cookies and forms (``admin.session_secret``,
    else random for this process)."""
    configured = app[SETTINGS].admin.session_secret.get_secret_value()
    app[SECRET] = configured.encode() if configured else secrets.token_bytes(32)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _mac(secret: bytes, purpose: str, data: str) -> str:
    return _b64(hmac.new(secret, f"{purpose}:{data}".encode(), hashlib.sha256).digest())


def sign(request: web.Request, purpose: str, data: str) -> str:
    """``data`` signed with the app's secret for one ``purpose`` (e.g. a resident's cookie
    or form token); a signature made for one purpose never passes for another."""
    return _mac(request.app[SECRET], purpose, data)


def signed_ok(request: web.Request, purpose: str, data: str, presented: str) -> bool:
    """Whether ``presented`` is ``sign(request, purpose, data)`` (constant time)."""
    expected = sign(request, purpose, data)
    return bool(presented) and secrets.compare_digest(presented.encode(), expected.encode())


def _idle(request: web.Request) -> timedelta:
    return timedelta(minutes=request.app[SETTINGS].admin.session_idle_minutes)


def _secure(request: web.Request) -> bool:
    return request.app[SETTINGS].server.base_url.startswith("https://")


def _session(request: web.Request, row: StaffSession, account: Account) -> Session:
    return Session(
        account_id=account.id, name=account.name, role=Role(account.role),
        department=account.department, csrf=row.csrf,
        must_change_password=account.must_change_password, address=client_address(request),
    )  # fmt: skip


async def start(request: web.Request, response: web.StreamResponse, account: Account) -> Session:
    """Log ``account`` in: a new server-side session and its cookie on ``response``.

    The session the browser had before, if any, ends: a new log-in never inherits one."""
    await sessions.end(request.cookies.get(COOKIE, ""))
    raw, row = await sessions.open_session(account, client_address(request), _idle(request))
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
