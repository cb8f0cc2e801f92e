"""The long-lived resources of one process, opened and closed in one visible order.

``open_services`` is used by the web app (as its cleanup context), by the
worker role and by one-shot CLI commands such as ``policybot ask``, so that a
resident's message goes through the same objects whichever way it arrives.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import aiohttp

from bot import db, privacy
from bot.config import Settings
from bot.deferred import DeferredWrites

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from bot.participation.outbox import OutboxWorker
    from bot.push.runtime import PushRuntime
    from bot.search import SearchIndex
    from bot.wechat.api import WeChatAPI

log = logging.getLogger("bot.services")


@dataclass
class Services:
    """What handlers, pages and workers may use; built only by ``open_services``."""

    settings: Settings
    http: aiohttp.ClientSession
    api: WeChatAPI
    search: SearchIndex
    redis: Redis | None = None
    recently_active: OrderedDict[str, datetime] = field(
        default_factory=OrderedDict
    )  # openid → last write
    push: PushRuntime | None = None  # set by the push runtime in roles all and worker
    outbox: OutboxWorker | None = None  # participation's delivery worker (roles all and worker)
    writes: DeferredWrites = field(default_factory=DeferredWrites)  # the chat's deferred writes


@asynccontextmanager
async def open_services(
    settings: Settings, *, sync_content: bool = False, defer_writes: bool = True
) -> AsyncIterator[Services]:
    """Database → deferred writes → Redis → HTTP session → WeChat API → content → search index.

    ``defer_writes=False`` makes every write at once, in the caller's transaction."""
    from bot.eligibility import notify  # noqa: F401  (listens for published policies)
    from bot.search import SearchIndex
    from bot.wechat.api import WeChatAPI

    privacy.configure(settings.privacy)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(db.database(settings.database.url))
        writes = DeferredWrites(immediate=not defer_writes)
        stack.push_async_callback(writes.close)
        redis = None
        if settings.redis.url:
            from redis.asyncio import Redis

            redis = Redis.from_url(settings.redis.url, decode_responses=True)
            stack.push_async_callback(redis.aclose)
        http = await stack.enter_async_context(
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        )
        api = WeChatAPI(settings.wechat, http, redis=redis)
        if sync_content:
            await _sync_content(settings, redis)
        search = SearchIndex(settings, redis=redis)
        await search.start()
        stack.push_async_callback(search.stop)
        yield Services(
            settings=settings, http=http, api=api, search=search, redis=redis, writes=writes
        )


async def _sync_content(settings: Settings, redis: Redis | None) -> None:
    """Import content/ at start-up; a broken file is reported, never fatal."""
    from bot.catalog.sync import sync_content

    if not settings.content.dir.is_dir():
        log.warning("content folder missing", extra={"path": str(settings.content.dir)})
        return
    await sync_content(settings.content.dir, settings, redis=redis)  # logs its own summary
