"""Any text no command took: a keyword search of the catalog (the last router)."""

from __future__ import annotations

from bot.catalog.models import Topic
from bot.handlers.router import Router
from bot.handlers.types import Context, Incoming, Reply, TextReply
from bot.search.reply import format_found, nothing_found
from bot.search.rules import record_miss

router = Router("search")


@router.kind("text")
async def search(message: Incoming, ctx: Context) -> Reply:
    query = message.text.strip()
    if query:
        found = await ctx.services.search.find(query)
        await record_miss(found)
        if found.hits:
            return TextReply(format_found(found, ctx.settings))
    topics = await Topic.all().values_list("name", flat=True)
    return TextReply(nothing_found(query, topics))
