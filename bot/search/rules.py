"""What residents could not find, and staff's fixes: counted misses, synonyms
and document keywords added in one step.

A miss is kept as the query alone (never who asked), counted, newest last.
A fix is a ``SearchRule`` read at query time by every process's index — a
synonym joins the life-event lexicon (``word`` also means ``terms``), a keyword
pins a document to the word — so it works within a poll of the change marker
(half a second), with no re-indexing and no restart.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.functions import Count, Max
from tortoise.transactions import in_transaction

from bot import audit
from bot.audit import Actor
from bot.catalog.models import Interpretation, Policy, Status
from bot.db import Statement
from bot.deferred import DeferredWrites
from bot.errors import Invalid, NotFound
from bot.search.hits import Found
from bot.search.models import MissKind, SearchMiss, SearchRule

log = logging.getLogger("bot.search")

MAX_WORD = 64
MAX_TERMS = 10
DOC_KINDS = {"policy": Policy, "interpretation": Interpretation}

Marker = tuple[int, str]


# Counted with the chat's other deferred writes; several askings before a flush add up.
_MISSED = Statement(
    "INSERT INTO search_miss (query, kind, count, first_seen, last_seen) "
    "VALUES ({}, {}, {}, {}, {}) ON CONFLICT (query) DO UPDATE SET "
    "count = search_miss.count + excluded.count, kind = excluded.kind, "
    "last_seen = excluded.last_seen"
)


def _add_up(earlier: tuple[Any, ...], later: tuple[Any, ...]) -> tuple[Any, ...]:
    query, kind, count, _first_seen, last_seen = later
    return query, kind, earlier[2] + count, earlier[3], last_seen


async def record_miss(found: Found, writes: DeferredWrites) -> None:
    """Count a query that found nothing or only a fallback."""
    if not found.missed or not found.query:
        return
    query = found.query.strip()[:200]
    kind = MissKind.fallback if found.hits else MissKind.nothing
    now = dt.datetime.now(dt.UTC)
    await writes.put(("search_miss", query), _MISSED, query, kind.value, 1, now, now, merge=_add_up)


async def list_misses(
    page: int = 1, per_page: int = 50, include_resolved: bool = False
) -> tuple[int, list[SearchMiss]]:
    """Most frequent first: what to fix first."""
    query = SearchMiss.all() if include_resolved else SearchMiss.filter(resolved_by=None)
    total = await query.count()
    items = (
        await query.order_by("-count", "-last_seen").offset((page - 1) * per_page).limit(per_page)
    )
    return total, list(items)


def _word(value: object, name: str = "word") -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid("invalid", f"{name} 不能为空")
    text = value.strip()
    if len(text) > MAX_WORD:
        raise Invalid("invalid", f"{name} 不能超过 {MAX_WORD} 个字")
    return text


async def _resolve(miss_id: int | None, who: Actor, conn: BaseDBAsyncClient) -> None:
    if miss_id is not None:
        await SearchMiss.filter(id=miss_id).using_db(conn).update(resolved_by=who.name[:64])


async def add_synonym(
    word: object, terms: object, who: Actor, miss_id: int | None = None
) -> SearchRule:
    """From now on ``word`` in a query also finds documents that say any of ``terms``."""
    text = _word(word)
    if isinstance(terms, str):
        terms = [t for t in terms.replace("，", " ").replace(",", " ").split() if t]
    if not isinstance(terms, list) or not terms:
        raise Invalid("invalid", "terms 应为至少一个词")
    clean = [_word(t, "terms") for t in terms][:MAX_TERMS]
    async with in_transaction() as conn:
        rule = await SearchRule.create(
            word=text, terms=clean, created_by=who.name[:64], using_db=conn
        )
        await _resolve(miss_id, who, conn)
        await audit.record(
            who, "search.synonym", "search_rule", rule.id, conn=conn, word=text, terms=clean
        )
    log.info("search synonym added", extra={"rule": rule.id})
    return rule


async def add_keyword(
    word: object, doc_kind: object, doc_id: object, who: Actor, miss_id: int | None = None
) -> SearchRule:
    """From now on ``word`` in a query finds this published document."""
    text = _word(word)
    model = DOC_KINDS.get(str(doc_kind))
    if model is None:
        raise Invalid("invalid", "doc_kind 应为 policy 或 interpretation")
    if not await model.filter(id=str(doc_id), status=Status.published).exists():
        raise NotFound("not_found", f"没有已发布的文件 {doc_id}")
    async with in_transaction() as conn:
        rule = await SearchRule.create(
            word=text,
            doc_kind=str(doc_kind),
            doc_id=str(doc_id),
            created_by=who.name[:64],
            using_db=conn,
        )
        await _resolve(miss_id, who, conn)
        await audit.record(
            who, "search.keyword", str(doc_kind), str(doc_id), conn=conn, word=text, rule=rule.id
        )
    log.info("search keyword added", extra={"rule": rule.id})
    return rule


async def delete_rule(rule_id: int, who: Actor) -> None:
    async with in_transaction() as conn:
        rule = await SearchRule.filter(id=rule_id).using_db(conn).first()
        if rule is None:
            raise NotFound("not_found", f"没有编号为 {rule_id} 的检索规则")
        await rule.delete(using_db=conn)
        await audit.record(
            who, "search.rule_delete", "search_rule", rule_id, conn=conn, word=rule.word
        )


async def rules_marker() -> Marker:
    """Changes whenever a rule is added or removed (polled by every index)."""
    row = (
        await SearchRule.all()
        .annotate(n=Count("id"), newest=Max("updated_at"))
        .values("n", "newest")
    )
    first = row[0] if row else {"n": 0, "newest": None}
    return int(first["n"] or 0), str(first["newest"] or "")


async def all_rules() -> list[SearchRule]:
    return list(await SearchRule.all().order_by("id"))
