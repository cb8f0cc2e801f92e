"""Log-in lockout: five failures lock the account name and the address for 15 minutes.

Counted in the database (``LoginFailure``) or, when configured, in Redis, so
every web process sees the same counts. The fifth failure inside the window
writes a lock that lasts 15 minutes from then; attempts while locked are
refused without looking at the password and are not counted again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bot.accounts.models import LoginFailure

if TYPE_CHECKING:
    from redis.asyncio import Redis

ATTEMPTS = 5
WINDOW = timedelta(minutes=15)
_LOCK = "locked:"


def keys_for(name: str, address: str) -> tuple[str, str]:
    return f"account:{name.casefold()}", f"address:{address}"


class Lockout:
    def __init__(self, redis: Redis | None = None, prefix: str = "policybot:login:") -> None:
        self.redis = redis
        self.prefix = prefix

    async def locked(self, keys: tuple[str, ...]) -> bool:
        if self.redis is not None:
            return bool(await self.redis.exists(*(self.prefix + _LOCK + k for k in keys)))
        since = datetime.now(UTC) - WINDOW
        locks = [_LOCK + k for k in keys]
        return await LoginFailure.filter(key__in=locks, at__gte=since).exists()

    async def failed(self, keys: tuple[str, ...]) -> bool:
        """Count one failure against each key; true when that locked one of them."""
        locked = False
        if self.redis is not None:
            ttl = int(WINDOW.total_seconds())
            for key in keys:
                count = await self.redis.incr(self.prefix + key)
                if count == 1:
                    await self.redis.expire(self.prefix + key, ttl)
                if count >= ATTEMPTS:
                    await self.redis.set(self.prefix + _LOCK + key, "1", ex=ttl)
                    await self.redis.delete(self.prefix + key)
                    locked = True
            return locked
        now = datetime.now(UTC)
        await LoginFailure.filter(at__lt=now - WINDOW).delete()
        await LoginFailure.bulk_create([LoginFailure(key=k, at=now) for k in keys])
        for key in keys:
            if await LoginFailure.filter(key=key, at__gte=now - WINDOW).count() >= ATTEMPTS:
                await LoginFailure.create(key=_LOCK + key, at=now)
                await LoginFailure.filter(key=key).delete()
                locked = True
        return locked

    async def succeeded(self, key: str) -> None:
        """A good log-in forgets the account's earlier failures (never the address's)."""
        if self.redis is not None:
            await self.redis.delete(self.prefix + key)
        else:
            await LoginFailure.filter(key=key).delete()
