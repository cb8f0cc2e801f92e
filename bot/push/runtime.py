"""The worker role of ``policybot serve``: scheduler plus delivery workers.

``push_runtime`` starts them in order (workers first, so runs that the
scheduler starts at once find someone to send them) and stops them in
reverse. It registers itself as ``services.push`` so that the admin API of
the same process can wake the workers instead of waiting for the next poll.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.push.delivery import DeliveryEngine
from bot.push.scheduler import PushScheduler

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger("bot.push")


@dataclass
class PushRuntime:
    engine: DeliveryEngine
    scheduler: PushScheduler

    async def wake(self) -> None:
        """Something changed in the database: rebuild jobs and look for work now."""
        await self.scheduler.reconcile()
        self.engine.wake()


@asynccontextmanager
async def push_runtime(services: Services) -> AsyncIterator[PushRuntime]:
    engine = DeliveryEngine(services)
    scheduler = PushScheduler(services, on_started=engine.wake)
    await engine.start()
    try:
        await scheduler.start()
        runtime = PushRuntime(engine, scheduler)
        services.push = runtime
        try:
            yield runtime
        finally:
            services.push = None
            await scheduler.stop()
    finally:
        await engine.stop()


async def wake(services: Services) -> None:
    """Wake this process's push runtime, if it runs one (role all); others poll."""
    if services.push is not None:
        await services.push.wake()
