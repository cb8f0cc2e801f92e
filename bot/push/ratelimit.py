"""A token bucket for WeChat calls that slows down when WeChat says so.

Hand-written rather than ``aiolimiter``: the ceiling must drop at once when
WeChat answers a rate-limit code (45009/45011) and creep back afterwards,
which a fixed-rate limiter does not do; the whole thing is a few lines.
The bucket is per process: run one worker process, or give each process its
share of ``push.rate_per_second``.
"""

from __future__ import annotations

import asyncio
import logging
import time

log = logging.getLogger("bot.push")


class TokenBucket:
    """``rate`` calls a second on average, bursts of at most ``burst``."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.ceiling = rate
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate / 10)
        self.tokens = self.burst
        self.updated = time.monotonic()
        self._lock = asyncio.Lock()
        self._slowed_until = 0.0

    def _refill(self, now: float) -> None:
        if self.rate < self.ceiling and now >= self._slowed_until:
            # Recover 10% of the ceiling a second once the penalty has passed.
            self.rate = min(self.ceiling, self.rate + self.ceiling * 0.1 * (now - self.updated))
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                self._refill(now)
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)

    def slow_down(self, seconds: float = 30.0) -> None:
        """WeChat asked us to slow down: halve the rate and hold it for ``seconds``."""
        self._refill(time.monotonic())
        self.rate = max(self.ceiling / 64, self.rate / 2)
        self.tokens = min(self.tokens, 0.0)
        self._slowed_until = time.monotonic() + seconds
        log.warning("rate limited by WeChat, slowing down", extra={"rate": round(self.rate, 2)})
