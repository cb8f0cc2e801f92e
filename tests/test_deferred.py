"""Deferred writes: a resident's “更多” position and a reply kept for WeChat's
retries are written together a moment later, read back at once by the process
that made them, and never lost when the database refuses a flush."""

from __future__ import annotations

import asyncio

from tortoise import connections

from bot.models import HandledMessage, MoreResults
from bot.services import Services
from bot.wechat.dedup import Deduplicator
from tests.handlers.chat import say


async def _rename(old: str, new: str) -> None:
    await connections.get("default").execute_script(f"ALTER TABLE {old} RENAME TO {new}")


async def test_more_right_after_a_search_and_in_the_database_soon(synced: Services) -> None:
    first = await say(synced, "补贴", openid="o-deferred")
    assert "发送“更多”" in first
    second = await say(synced, "更多", openid="o-deferred")  # before any flush
    assert second != first and "没有更多结果" not in second
    assert await synced.writes.flush()
    row = await MoreResults.get(openid="o-deferred")  # what another process reads
    assert row.query == "补贴" and row.shown > 3


async def test_a_refused_flush_keeps_its_writes_until_the_database_takes_them(
    synced: Services,
) -> None:
    await _rename("more_results", "more_results_away")
    try:
        await say(synced, "补贴", openid="o-away")
        assert not await synced.writes.flush()  # the table is gone: nothing written, nothing lost
        assert "没有更多结果" not in await say(synced, "更多", openid="o-away")
    finally:
        await _rename("more_results_away", "more_results")
    assert await synced.writes.flush()
    row = await MoreResults.get(openid="o-away")
    assert row.query == "补贴" and row.shown > 3  # the later position won, written once


async def test_a_burst_of_claims_shares_statements_and_each_is_won_once(
    services: Services,
) -> None:
    """450 messages at once (more than one statement takes), 50 of them twice: each is
    claimed exactly once, and a retry afterwards finds the claim."""
    dedup = Deduplicator(writes=services.writes)
    keys = [f"burst-{i}" for i in range(450)]
    asked = [*keys, *keys[:50]]
    claims = await asyncio.gather(*(dedup.claim(k) for k in asked))
    won = [key for key, claim in zip(asked, claims, strict=True) if claim.first]
    assert sorted(won) == sorted(keys)
    await dedup.finish(keys[0], {"text": "已收到"})
    again = await dedup.claim(keys[0])  # a retry: the reply, from this process's pending write
    assert not again.first and again.done and again.reply == {"text": "已收到"}
    assert await HandledMessage.filter(key__startswith="burst-").count() == 450
