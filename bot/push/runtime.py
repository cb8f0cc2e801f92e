"""The worker role of ``policybot serve``: scheduler plus delivery workers.

``push_runtime`` starts them in order (workers first, so runs that the
scheduler starts at once find someone to send them) and stops them in
reverse. It registers itself as ``services.extras["push"]`` so that the admin
API of the same process can wake the workers instead of waiting for the
next poll.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from bot.push.delivery import DeliveryEngine
from bot.push.scheduler import PushScheduler

log = logging.getLogger("bot.push")

EXTRAS_KEY = "push"


@dataclass
class PushRuntime:
    engine: DeliveryEngine
    scheduler: PushScheduler

    async def poke(self) -> None:
        """Something changed in the database: rebuild jobs and look for work now."""
        await self.scheduler.reconcile()
        self.engine.wake()


@asynccontextmanager
async def push_runtime(services: Any) -> AsyncIterator[PushRuntime]:
    engine = DeliveryEngine(services)
    scheduler = PushScheduler(services, on_started=engine.wake)
    await engine.start()
    try:
        await scheduler.start()
        runtime = PushRuntime(engine, scheduler)
        services.extras[EXTRAS_KEY] = runtime
        try:
            yield runtime
        finally:
            services.extras.pop(EXTRAS_KEY, None)
            await scheduler.stop()
    finally:
        await engine.stop()


async def poke(services: Any) -> None:
    """Wake this process's push runtime, if it runs one (role all); others poll."""
    runtime = services.extras.get(EXTRAS_KEY)
    if runtime is not None:
        await runtime.poke()
