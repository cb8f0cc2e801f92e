"""The account's access token, fetched once and shared by every process.

WeChat gives one token per account: when workers refresh it independently
they invalidate each other (40001) and burn the daily quota. So the token
lives in a shared store — the database (``AccessToken``, with a ``Lease`` row
as the refresh lock) or Redis when configured (a plain string key and a
``SET NX`` lock, both expiring; plain, not JSON-quoted, so other tools can
read it — wechatpy #484). One process refreshes under the lock; the others
wait briefly and re-read.

Tokens come from ``/cgi-bin/stable_token`` by default: it is independent of
``/cgi-bin/token`` (another system of the account calling ``/token`` does not
invalidate ours), returns the same token until it nearly expires, and only
``force_refresh`` (at most 20 a day) replaces a valid one. After a 40001 we
first ask without forcing — another process may simply have refreshed —
and force only if WeChat hands back the very token it just rejected.

The stored ``expires_at`` is when processes must stop using the token: the
real expiry minus a safety margin (5 minutes, less for short test lifetimes).
Refreshes are logged on ``bot.wechat``; the token and secret never are.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

import aiohttp

from bot.config import WeChatSettings
from bot.leases import release_lease, try_lease
from bot.models import AccessToken
from bot.wechat.errors import NETWORK_ERROR, WeChatError, parse_answer

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("bot.wechat")

MARGIN = 300.0  # stop using a token 5 minutes before WeChat expires it
LEASE_TTL = 15.0  # a refresh lock outlives one HTTP call (10 s timeout), not much more
WAIT = 12.0  # how long a process waits for another's refresh before giving up
FORCE_GAP = 60.0  # never force_refresh twice a minute from one process (20 a day in all)

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class StoredToken:
    token: str
    expires_at: float  # epoch seconds, margin already subtracted

    @property
    def usable(self) -> bool:
        return time.time() < self.expires_at


class TokenStore(Protocol):
    async def read(self) -> StoredToken | None: ...
    async def write(self, token: StoredToken) -> None: ...
    async def acquire(self, holder: str) -> bool: ...
    async def release(self, holder: str) -> None: ...


class DbTokenStore:
    """``AccessToken`` row per appid; a ``Lease`` row is the refresh lock."""

    def __init__(self, appid: str) -> None:
        self.appid = appid
        self.lease = f"wechat-token:{appid}"

    async def read(self) -> StoredToken | None:
        row = await AccessToken.get_or_none(appid=self.appid)
        return StoredToken(row.token, row.expires_at.timestamp()) if row else None

    async def write(self, token: StoredToken) -> None:
        expires = datetime.fromtimestamp(token.expires_at, UTC)
        await AccessToken.update_or_create(
            defaults={"token": token.token, "expires_at": expires}, appid=self.appid
        )

    async def acquire(self, holder: str) -> bool:
        return await try_lease(self.lease, holder, LEASE_TTL)

    async def release(self, holder: str) -> None:
        await release_lease(self.lease, holder)


class RedisTokenStore:
    """A plain string key expiring with the token, and a ``SET NX PX`` lock."""

    def __init__(self, redis: Redis, appid: str, prefix: str) -> None:
        self.redis = redis
        self.key = f"{prefix}wechat:access_token:{appid}"
        self.lock = f"{prefix}wechat:access_token_lock:{appid}"

    async def read(self) -> StoredToken | None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(self.key)
            pipe.pttl(self.key)
            value, pttl = await pipe.execute()
        if value is None or pttl is None or pttl <= 0:
            return None
        token = value.decode() if isinstance(value, bytes) else str(value)
        return StoredToken(token, time.time() + pttl / 1000)

    async def write(self, token: StoredToken) -> None:
        ms = int((token.expires_at - time.time()) * 1000)
        if ms > 0:
            await self.redis.set(self.key, token.token, px=ms)

    async def acquire(self, holder: str) -> bool:
        return bool(await self.redis.set(self.lock, holder, nx=True, px=int(LEASE_TTL * 1000)))

    async def release(self, holder: str) -> None:
        await self.redis.eval(_RELEASE, 1, self.lock, holder)  # type: ignore[misc]


class AccessTokenManager:
    """Hands out the shared token; refreshes it before expiry or when WeChat rejects it."""

    def __init__(
        self,
        settings: WeChatSettings,
        http: aiohttp.ClientSession,
        redis: Redis | None = None,
        *,
        key_prefix: str = "policybot:",
        stable: bool = True,
    ) -> None:
        self.settings = settings
        self.http = http
        self.stable = stable
        self.store: TokenStore = (
            RedisTokenStore(redis, settings.appid, key_prefix)
            if redis is not None
            else DbTokenStore(settings.appid)
        )
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._cached: StoredToken | None = None
        self._lock = asyncio.Lock()
        self._last_forced = -FORCE_GAP

    async def get(self) -> str:
        """A usable token, from memory, the shared store, or WeChat (in that order)."""
        cached = self._cached
        if cached and cached.usable:
            return cached.token
        async with self._lock:
            cached = self._cached
            if cached and cached.usable:
                return cached.token
            return await self._obtain(stale=None)

    async def refresh(self, stale: str) -> str:
        """A token other than ``stale``, which WeChat just rejected (40001/40014/42001)."""
        async with self._lock:
            cached = self._cached
            if cached and cached.usable and cached.token != stale:
                return cached.token  # another task of this process refreshed meanwhile
            self._cached = None
            return await self._obtain(stale=stale)

    async def _obtain(self, stale: str | None) -> str:
        deadline = time.monotonic() + WAIT
        delay = 0.02
        while True:
            current = await self._fresh_in_store(stale)
            if current:
                return current
            if await self.store.acquire(self.holder):
                try:
                    current = await self._fresh_in_store(stale)
                    if current:
                        return current
                    token = await self._fetch(stale)
                    await self.store.write(token)
                    self._cached = token
                    return token.token
                finally:
                    await self.store.release(self.holder)
            if time.monotonic() > deadline:
                raise WeChatError(
                    NETWORK_ERROR, "access token refresh by another process timed out"
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.25)

    async def _fresh_in_store(self, stale: str | None) -> str | None:
        stored = await self.store.read()
        if stored and stored.usable and stored.token != stale:
            self._cached = stored
            return stored.token
        return None

    async def _fetch(self, stale: str | None) -> StoredToken:
        forced = False
        if self.stable:
            token, expires_in = await self._stable_token(force=False)
            if stale is not None and token == stale:
                if time.monotonic() - self._last_forced >= FORCE_GAP:
                    self._last_forced = time.monotonic()
                    forced = True
                    token, expires_in = await self._stable_token(force=True)
                else:
                    log.warning(
                        "access token rejected again within a minute; not forcing a refresh",
                        extra={"appid": self.settings.appid},
                    )
        else:
            token, expires_in = await self._classic_token()
        margin = min(MARGIN, expires_in / 10)
        log.info(
            "access token refreshed",
            extra={
                "appid": self.settings.appid,
                "endpoint": "stable_token" if self.stable else "token",
                "forced": forced,
                "after_rejection": stale is not None,
                "expires_in": expires_in,
            },
        )
        return StoredToken(token, time.time() + expires_in - margin)

    async def _stable_token(self, *, force: bool) -> tuple[str, float]:
        body = {
            "grant_type": "client_credential",
            "appid": self.settings.appid,
            "secret": self.settings.secret.get_secret_value(),
            "force_refresh": force,
        }
        return await self._token_request("POST", "cgi-bin/stable_token", json=body)

    async def _classic_token(self) -> tuple[str, float]:
        params = {
            "grant_type": "client_credential",
            "appid": self.settings.appid,
            "secret": self.settings.secret.get_secret_value(),
        }
        return await self._token_request("GET", "cgi-bin/token", params=params)

    async def _token_request(self, method: str, path: str, **kwargs: object) -> tuple[str, float]:
        url = self.settings.api_base_url + path
        try:
            async with self.http.request(method, url, **kwargs) as resp:  # type: ignore[arg-type]
                raw = await resp.read()
                status = resp.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise WeChatError(
                NETWORK_ERROR, f"token request failed: {type(exc).__name__}"
            ) from None
        try:
            data = parse_answer(path, status, raw)
        except WeChatError as exc:
            log.error(
                "access token refused",
                extra={"appid": self.settings.appid, "errcode": exc.code, "errmsg": exc.message},
            )
            raise
        return str(data["access_token"]), float(data.get("expires_in", 7200))
