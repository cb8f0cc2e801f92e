"""Console sessions and CSRF tokens: signed cookies, no server-side store.

The cookie holds a fingerprint of the admin token used to log in, never the
token itself; every request looks the fingerprint up in ``admin.api_tokens``
again, so removing a token from the config (or changing its role) takes
effect on open sessions at once. Signing is HMAC-SHA256 with
``admin.session_secret`` (random per process when empty: sessions then end
with the process, which is the safe default). CSRF tokens are derived from a
random nonce inside the session, so they die with it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import orjson
from aiohttp import web

from bot.config import ApiToken
from bot.keys import SETTINGS

COOKIE = "policybot_console"
LOGIN_COOKIE = "policybot_login"  # pre-session nonce: the login form has a CSRF token too
MAX_AGE = 8 * 3600
LOGIN_MAX_AGE = 1800

SECRET = web.AppKey("console_secret", bytes)


@dataclass(frozen=True)
class Session:
    token: ApiToken
    nonce: str
    expires: int

    @property
    def name(self) -> str:
        return self.token.name or f"{self.token.role.value}-token"


def setup(app: web.Application) -> None:
    """Fix the signing key of this app (configured, else random for this process)."""
    configured = app[SETTINGS].admin.session_secret.get_secret_value()
    app[SECRET] = configured.encode() if configured else secrets.token_bytes(32)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


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


def _fingerprint(secret: bytes, token: ApiToken) -> str:
    return _mac(secret, "token", token.token.get_secret_value())[:22]


def _secure(request: web.Request) -> bool:
    return request.app[SETTINGS].server.base_url.startswith("https://")


def start(request: web.Request, response: web.StreamResponse, token: ApiToken) -> None:
    """Log ``token``'s holder in: set the signed session cookie on ``response``."""
    secret = request.app[SECRET]
    payload = {
        "k": _fingerprint(secret, token),
        "n": secrets.token_urlsafe(16),
        "e": int(time.time()) + MAX_AGE,
    }
    body = _b64(orjson.dumps(payload))
    value = f"{body}.{_mac(secret, 'session', body)}"
    response.set_cookie(
        COOKIE, value, max_age=MAX_AGE, path="/admin", httponly=True, samesite="Strict",
        secure=_secure(request),
    )  # fmt: skip
    response.del_cookie(LOGIN_COOKIE, path="/admin")


def end(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/admin")


def current(request: web.Request) -> Session | None:
    """The valid session of this request, or None (missing, forged, expired, token revoked)."""
    raw = request.cookies.get(COOKIE, "")
    body, _, mac = raw.partition(".")
    secret = request.app[SECRET]
    if not body or not secrets.compare_digest(mac.encode(), _mac(secret, "session", body).encode()):
        return None
    try:
        data = orjson.loads(_unb64(body))
        fingerprint, nonce, expires = str(data["k"]), str(data["n"]), int(data["e"])
    except (ValueError, KeyError, TypeError):
        return None
    if expires < time.time():
        return None
    for token in request.app[SETTINGS].admin.api_tokens:
        if secrets.compare_digest(_fingerprint(secret, token).encode(), fingerprint.encode()):
            return Session(token, nonce, expires)
    return None


def csrf_token(request: web.Request, session: Session) -> str:
    return _mac(request.app[SECRET], "csrf", session.nonce)


def csrf_ok(request: web.Request, session: Session, presented: str) -> bool:
    return bool(presented) and secrets.compare_digest(
        presented.encode(), csrf_token(request, session).encode()
    )


def new_login_nonce() -> str:
    return secrets.token_urlsafe(16)


def login_csrf(request: web.Request, nonce: str) -> str:
    """The login form's CSRF token, bound to the pre-session ``nonce`` cookie."""
    return _mac(request.app[SECRET], "login", nonce)


def set_login_nonce(request: web.Request, response: web.StreamResponse, nonce: str) -> None:
    response.set_cookie(
        LOGIN_COOKIE, nonce, max_age=LOGIN_MAX_AGE, path="/admin", httponly=True,
        samesite="Strict", secure=_secure(request),
    )  # fmt: skip


def login_csrf_ok(request: web.Request, presented: str) -> bool:
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    expected = login_csrf(request, nonce)
    return bool(nonce and presented) and secrets.compare_digest(
        presented.encode(), expected.encode()
    )
