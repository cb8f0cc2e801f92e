"""Any text no command took: a keyword search of the catalog (the last router).

One reply shows ``chat.max_results`` results; when there are more, the query
is remembered (``MoreResults``, in the database so any process can answer)
and “更多” shows the next ones.
"""

from __future__ import annotations

from bot.db import Statement
from bot.handlers.router import Router, command_argument
from bot.handlers.types import Context, Incoming, Reply, TextReply
from bot.models import MoreResults
from bot.search.reply import MORE_WORD, format_found, nothing_found
from bot.search.rules import record_miss

router = Router("search")

MAX_HITS = 15  # results reachable through “更多”

# Every search writes one of these: fixed statements, not the query builder (bot.db.Statement).
_REMEMBER = Statement(
    "INSERT INTO more_results (openid, query, shown, updated_at) VALUES ({}, {}, {}, {}) "
    "ON CONFLICT (openid) DO UPDATE SET query = excluded.query, shown = excluded.shown, "
    "updated_at = excluded.updated_at"
)
_FORGET = Statement("DELETE FROM more_results WHERE openid = {}")
_TOPICS = Statement("SELECT name FROM topic ORDER BY position")  # named when nothing is found


async def _answer(ctx: Context, openid: str, query: str, start: int) -> Reply:
    found = await ctx.services.search.find(query, MAX_HITS) if query else None
    if found is not None and not start:
        await record_miss(found, ctx.services.writes)  # staff see what residents could not find
    hits = found.hits if found else []
    if found is None or not hits:
        topics = [row["name"] for row in await _TOPICS.rows()]
        return TextReply(nothing_found(query, topics))
    text, shown = format_found(found, start=start, page=ctx.settings.chat.max_results)
    writes, key = ctx.services.writes, ("more_results", openid)
    if start + shown < len(hits):
        await writes.put(key, _REMEMBER, openid, query[:200], start + shown, ctx.now)
    else:
        await writes.put(key, _FORGET, openid)
    return TextReply(text)


@router.command(MORE_WORD, "更多结果", "下一页", "继续")
async def more(message: Incoming, ctx: Context) -> Reply:
    """The next results of the resident's last search (or of the words after 更多)."""
    if query := command_argument(message.text):
        return await _answer(ctx, message.openid, query, 0)
    last = await _last_search(ctx, message.openid)
    if last is None:
        return TextReply("没有更多结果了。请直接发送想查的事，如“低保怎么申请”。")
    return await _answer(ctx, message.openid, *last)


async def _last_search(ctx: Context, openid: str) -> tuple[str, int] | None:
    """The query and results shown, this process's moment-old write first."""
    mine = ctx.services.writes.pending(("more_results", openid))
    if mine is not None:
        statement, args = mine
        return (str(args[1]), int(args[2])) if statement is _REMEMBER else None
    row = await MoreResults.get_or_none(openid=openid)
    return (row.query, row.shown) if row is not None else None


@router.kind("text")
async def search(message: Incoming, ctx: Context) -> Reply:
    return await _answer(ctx, message.openid, message.text.strip(), 0)
