"""Keyword search over published policies, interpretations and catalog items.

The database is the source of truth; ``SearchIndex`` keeps an in-memory
inverted index (``bot.search.index``) built from it at start and kept fresh
by a refresher task. Every ``POLL_SECONDS`` it reads a cheap change marker
(per table the newest ``updated_at``, from an index; published counts every
ten seconds) and, when that moved, re-indexes the rows changed since then —
so a document published by any process (the web role, the worker, ``policybot
content sync``) is findable everywhere within a second. With Redis configured, a message on
``CHANNEL`` wakes the refresher at once (``announce_change``); the poll stays
as the fallback. A change to the synonyms ``content sync`` stored (the marker
covers them) rebuilds the index.

``search`` is cheap (a few milliseconds at 100,000 documents) and runs on the
event loop; building and bulk re-indexing run in a worker thread.

Start-up loads the snapshot a previous build left under ``search.index_dir``
(``bot.search.snapshot``: memory-mapped postings shared by the processes of a
machine) and then refreshes from the change marker saved with it, exactly as
the refresher does, so documents published while the process was down are
found; a snapshot made by another analyser or dictionary, or a damaged one,
means a full rebuild. Each rebuild writes a new snapshot (one writer at a time,
through a lease), and so does a refresh once ``SAVE_AFTER`` documents changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import datetime as dt
import hashlib
import logging
import os
import socket
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

from bot.catalog import stored
from bot.catalog.kinds import kind as kind_of
from bot.catalog.models import Policy, Status
from bot.config import Settings
from bot.leases import release_lease, try_lease
from bot.search import rules, snapshot, source
from bot.search.backend import SearchBackend
from bot.search.correct import Corrector
from bot.search.hits import Found, Hit, Passage
from bot.search.index import IndexDoc, InvertedIndex, pin_term
from bot.search.passages import best_passage
from bot.search.ranking import fallback, rank
from bot.search.synonyms import Synonyms
from bot.search.text import analyzer, normalize
from bot.search.understand import Lexicon

log = logging.getLogger("bot.search")

POLL_SECONDS = 0.5
CHANNEL = "policybot:search:changed"
SKEW = dt.timedelta(seconds=5)  # re-read rows this far behind the newest change seen (late commits)
PAGE = 2000
MAX_QUERY_CHARS = 200

CORRECTOR_REFRESH = 300.0  # seconds: the correction vocabulary follows new documents this late
COMMON_WORD = 100  # jieba frequency above which a word is never "corrected"
SAVE_AFTER = 1000  # documents changed since the snapshot before a refresh writes a new one
SAVE_LEASE_SECONDS = 300.0
ANSWERS_KEPT = 4096  # recent distinct questions whose answers are kept until the index changes

__all__ = ["CHANNEL", "Found", "Hit", "SearchBackend", "SearchIndex", "announce_change"]


async def announce_change(redis: Any) -> None:
    """Tell every process's index to refresh now (optional: they also poll)."""
    if redis is not None:
        await redis.publish(CHANNEL, "1")


class SearchIndex:
    def __init__(
        self, settings: Settings, redis: Any = None, *, poll_seconds: float = POLL_SECONDS
    ) -> None:
        self.settings = settings
        self.redis = redis
        self.poll_seconds = poll_seconds
        self.base_url = settings.server.base_url
        self.index: InvertedIndex | None = None
        self._marker: dict[str, source.Marker] = {}
        self._watermark: dict[str, dt.datetime | None] = {}
        self._slow_checked = 0.0
        self._day = dt.date.min  # the server-time date validity was last computed for
        self._synonym_groups: list[list[str]] | None = None
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()  # one refresh or rebuild at a time (the refresher, publishers)
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._corrector: Corrector | None = None
        self._rules_marker: rules.Marker = (0, "")
        self._corrector_at = 0.0
        self._key = ""  # snapshot version key of the analyser the index was built with
        self._changed_since_save = 0
        self.loaded_from_snapshot = False
        # Residents ask the same few hundred things (most of all after a push): a kept
        # answer costs a dictionary lookup instead of a search and a database read.
        self._answers: OrderedDict[tuple[str, int], Found] = OrderedDict()
        self._generation = 0

    # ------------------------------------------------------------------ life cycle
    async def start(self) -> None:
        """Build from the database, then keep refreshing in the background."""
        await asyncio.to_thread(analyzer)
        async with self._lock:
            if await self._load():
                await self._refresh()
                _return_free_memory()
            else:
                await self._rebuild()
        self._tasks.append(asyncio.create_task(self._refresher(), name="search-refresher"))
        if self.redis is not None:
            self._tasks.append(asyncio.create_task(self._listen(), name="search-listener"))

    async def stop(self) -> None:
        # The Redis listener ends on this flag: redis-py's pubsub can swallow a cancellation
        # that lands while it waits for a message, which would hang shut-down.
        self._stopping.set()
        for task in self._tasks:
            if task.get_name() != "search-listener":
                task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    # ------------------------------------------------------------------ queries
    def find_sync(self, query: str, limit: int = 5) -> Found:
        """The search itself, without I/O (benchmarks call this): the hits as
        typed; failing that, as corrected; failing that, about the life event
        the query names (``Found.fallback``)."""
        index = self.index
        query = (query or "").strip()[:MAX_QUERY_CHARS]
        found = Found(query)
        if index is None or not query:
            return found
        limit = max(1, limit)
        plan = index.plan(query)
        found.intents, found.terms = plan.intents, index.weighted_terms(plan)
        found.hits = rank(index, plan, limit, self.base_url)
        if found.hits:
            return found
        corrector = self._corrector
        corrected, fixes = corrector.correct(normalize(query)) if corrector else (query, [])
        if fixes:
            better = index.plan(corrected)
            found.hits = rank(index, better, limit, self.base_url)
            if found.hits:
                found.corrected = corrected
                found.intents, found.terms = better.intents, index.weighted_terms(better)
                return found
        found.hits = fallback(index, plan, self.base_url)
        if found.hits:
            found.fallback = plan.events[0]
        return found

    def search_sync(self, query: str, limit: int = 5) -> list[Hit]:
        """Only documents that answer the query (no fallback): what the API returns."""
        found = self.find_sync(query, limit)
        return [] if found.fallback else found.hits

    async def search(self, query: str, limit: int = 5) -> list[Hit]:
        return self.search_sync(query, limit)

    async def find(self, query: str, limit: int = 5) -> Found:
        """``find_sync``, plus the passage that answers a question about a part of
        the best document (its amount, conditions …), read from the database.

        Answers are kept until the index next changes; callers must not modify them."""
        key = (query, limit)
        kept = self._answers.get(key)
        if kept is not None:
            self._answers.move_to_end(key)
            return kept
        generation = self._generation
        found = self.find_sync(query, limit)
        if found.intents and found.hits and not found.fallback:
            found.passage = await self._passage(found)
        if generation == self._generation:  # no refresh ran while the passage was read
            self._answers[key] = found
            if len(self._answers) > ANSWERS_KEPT:
                self._answers.popitem(last=False)
        return found

    def _changed(self) -> None:
        """The index changed: every kept answer may be wrong now."""
        self._generation += 1
        self._answers.clear()

    async def _passage(self, found: Found) -> Passage | None:
        index = self.index
        assert index is not None
        hit = found.hits[0]
        if hit.kind != "policy" or hit.validity != "有效":
            return None  # a repealed or lapsed policy is never quoted as current
        intents = [index.lexicon.intents[name] for name in found.intents]
        best: tuple[Passage, str] | None = None
        rows = await source.bodies(hit.id, hit.interpretation_ids)
        for kind, doc_id, title, body in rows:
            passage = best_passage(body, found.terms, intents, title)
            if passage is not None and (best is None or kind == "policy"):
                url = hit.url if kind == "policy" else f"{self.base_url}/interpretations/{doc_id}"
                passage.url, passage.source, passage.doc_number = (
                    f"{url}#{passage.anchor}",
                    title,
                    hit.doc_number,
                )
                best = (passage, kind)
        return best[0] if best else None

    @staticmethod
    def _build_corrector(index: InvertedIndex, words: list[str]) -> Corrector:
        """The correction vocabulary: the index's own words (run in a thread)."""

        def weight(word: str) -> int:
            return max((index.df(t) for t, _f in index._alternatives(word)), default=0)

        known = [w for w in words if weight(w) > 0]
        tools = index.analyzer
        return Corrector(known, weight, is_common=lambda w: tools.frequency(w) >= COMMON_WORD)

    async def _refresh_corrector(self, force: bool = False) -> None:
        index = self.index
        if index is None:
            return
        if force or time.monotonic() - self._corrector_at > CORRECTOR_REFRESH:
            self._corrector_at = time.monotonic()
            # The key lists are copied here, on the loop: a refresh may add terms meanwhile.
            words = [
                w
                for w in (
                    *index.main,
                    *index.delta,
                    *index.synonyms.terms(),
                    *index.lexicon.relations,
                )
                if not w.startswith(("~", "#"))
            ]
            self._corrector = await asyncio.to_thread(self._build_corrector, index, words)

    def _today(self) -> dt.date:
        """In the server's time zone, as pages count validity (expires_on)."""
        return dt.datetime.now(self.settings.server.tz).date()

    async def rebuild(self) -> None:
        """A fresh index from every published row; swapped in when complete."""
        async with self._lock:
            await self._rebuild()

    async def _analysis(self) -> tuple[Synonyms, Lexicon, dict[tuple[str, str], list[str]]]:
        """The synonyms, lexicon and pins from the database, their words in the
        analyser's dictionary, and the snapshot key they make."""
        self._synonym_groups = await stored.synonym_groups()
        synonyms = Synonyms.with_builtin(self._synonym_groups)
        tools = await asyncio.to_thread(analyzer)
        lexicon, pins = await self._staff_rules()
        words = [*synonyms.terms(), *lexicon.terms()]
        await asyncio.to_thread(tools.add_words, words)
        self._key = snapshot.version_key(words, self._synonym_groups, self.settings.database.url)
        return synonyms, lexicon, pins

    async def _rebuild(self) -> None:
        started = time.perf_counter()
        marker = await source.read_marker()
        synonyms, lexicon, pins = await self._analysis()
        self._slow_checked = time.monotonic()
        index = InvertedIndex(analyzer(), synonyms, lexicon)
        index.pins = pins
        self._day = self._today()
        async for page in _all_docs(self._day):
            await asyncio.to_thread(index.bulk_add, page)
        index.finish_bulk()
        self.index = index
        self.loaded_from_snapshot = False
        await self._refresh_corrector(force=True)
        self._marker = marker
        self._watermark = {k: source.parse_time(marker[k][0]) for k in source.kind_names()}
        self._changed()
        log.info(
            "search index built",
            extra={"documents": len(index), "seconds": round(time.perf_counter() - started, 2)},
        )
        await self._save()
        _return_free_memory()  # the build's term counts and the old index

    async def _load(self) -> bool:
        """Take the index from the snapshot, if there is one this analyser made."""
        directory = self.settings.search.snapshot_dir
        if directory is None:
            return False
        started = time.perf_counter()
        synonyms, lexicon, pins = await self._analysis()
        index = InvertedIndex(analyzer(), synonyms, lexicon)
        state = await asyncio.to_thread(snapshot.load, directory, self._key, index)
        if state is None:
            return False
        index.set_pins(pins)
        self.index = index
        self.loaded_from_snapshot = True
        self._marker = state.marker
        self._watermark = {k: source.parse_time(v or "") for k, v in state.watermarks.items()}
        self._day = dt.date.fromisoformat(state.day)
        self._slow_checked = 0.0  # the first refresh also compares published counts
        self._changed_since_save = 0
        await self._refresh_corrector(force=True)
        self._changed()
        log.info(
            "search index loaded",
            extra={"documents": len(index), "seconds": round(time.perf_counter() - started, 2)},
        )
        return True

    async def save_snapshot(self) -> bool:
        """Write the index to ``search.index_dir`` now (False: none configured, or
        another process is writing one)."""
        async with self._lock:
            return await self._save()

    async def _save(self) -> bool:
        directory = self.settings.search.snapshot_dir
        index = self.index
        if directory is None or index is None:
            return False
        where = f"{socket.gethostname()}:{directory.resolve()}".encode()
        name = f"search-snapshot:{hashlib.sha1(where).hexdigest()[:20]}"  # one writer per directory
        holder = f"{socket.gethostname()}:{os.getpid()}:{id(self)}"
        self._changed_since_save = 0
        try:
            if not await try_lease(name, holder, SAVE_LEASE_SECONDS):
                return False  # another process is writing one; ours would say the same
        except Exception:
            log.exception("search snapshot lease unavailable; not written")
            return False
        try:
            state = snapshot.State(
                marker=dict(self._marker),
                watermarks={k: v.isoformat() if v else None for k, v in self._watermark.items()},
                day=self._day.isoformat(),
            )
            started = time.perf_counter()
            await asyncio.to_thread(snapshot.save, directory, self._key, index, state)
            log.info(
                "search snapshot written",
                extra={"documents": len(index), "seconds": round(time.perf_counter() - started, 2)},
            )
            return True
        except Exception:  # a full disk or a bad directory must not stop the service
            log.exception("search snapshot not written; the next start rebuilds")
            return False
        finally:
            with contextlib.suppress(Exception):
                await release_lease(name, holder)

    async def refresh(self) -> bool:
        """Apply database changes now; True if anything changed. The refresher calls
        this every poll; call it directly to see one's own write without waiting."""
        if self.index is None:
            return False
        async with self._lock:
            return await self._refresh()

    async def _refresh(self) -> bool:
        now = time.monotonic()
        slow = now - self._slow_checked >= source.SLOW_SECONDS
        marker = await source.read_marker(None if slow else self._marker)
        if slow:
            self._slow_checked = now
        entries_moved = marker[source.ENTRIES] != self._marker.get(source.ENTRIES)
        if entries_moved and await stored.synonym_groups() != self._synonym_groups:
            await self._rebuild()
            return True
        changed = [k for k in source.kind_names() if marker[k] != self._marker.get(k)]
        touched = await self._new_day()
        touched |= await self._reload_rules()
        if touched:
            await self._refresh_corrector()
        for kind in changed:
            touched |= await self._apply(kind, marker[kind], counted=slow)
        self._marker = marker
        if touched:
            self._changed()
        if self._changed_since_save >= SAVE_AFTER:
            await self._save()
        return touched

    async def _staff_rules(self) -> tuple[Lexicon, dict[tuple[str, str], list[str]]]:
        """The lexicon with staff's synonyms and keywords, and the documents pinned."""
        self._rules_marker = await rules.rules_marker()
        pairs: list[tuple[str, list[str]]] = []
        pins: dict[tuple[str, str], list[str]] = {}
        for rule in await rules.all_rules():
            if rule.doc_id and rule.doc_kind:
                pins.setdefault((rule.doc_kind, rule.doc_id), []).append(rule.word)
                pairs.append((rule.word, [pin_term(rule.word)]))
            else:
                pairs.append((rule.word, list(rule.terms)))
        return Lexicon.load().with_rules(pairs), pins

    async def _reload_rules(self) -> bool:
        """Staff added or removed a synonym or keyword: use it from now on."""
        if await rules.rules_marker() == self._rules_marker:
            return False
        index = self.index
        assert index is not None
        lexicon, pins = await self._staff_rules()
        await asyncio.to_thread(index.analyzer.add_words, list(lexicon.relations))
        index.lexicon = lexicon
        index.set_pins(pins)
        await self._refresh_corrector(force=True)
        return True

    async def _new_day(self) -> bool:
        """At midnight (server time) policies whose ``expires_on`` has passed become 失效
        without any write to the database: re-index those so ranking and labels follow."""
        today = self._today()
        if today == self._day:
            return False
        lapsed = await Policy.filter(
            status=Status.published, expires_on__gte=self._day, expires_on__lt=today
        ).values_list("id", flat=True)
        self._day = today
        return await self._index_docs(await _docs_by_ids("policy", [str(i) for i in lapsed], today))

    async def _apply(self, kind: str, marker: source.Marker, counted: bool) -> bool:
        index = self.index
        assert index is not None
        mark = self._watermark.get(kind)
        since = mark - SKEW if mark is not None else None
        docs, gone = await _changed_docs(index, kind, since, self._today())
        touched = False
        for doc_id in gone:
            if index.remove((kind, doc_id)):
                touched = True
                self._changed_since_save += 1
        touched |= await self._index_docs(docs)
        newest = source.parse_time(marker[0])
        if newest is not None and (mark is None or newest > mark):
            self._watermark[kind] = newest
        if counted and index.count(kind) != marker[1]:
            touched |= await self._reconcile(kind)
        return touched

    async def _index_docs(self, docs: list[IndexDoc]) -> bool:
        index = self.index
        assert index is not None
        fresh = []
        for doc in docs:
            slot = index.slot_of.get(doc.info.key)
            current = index.infos[slot] if slot is not None else None
            if current is None or current != doc.info:
                fresh.append(doc)
        if not fresh:
            return False
        if len(fresh) > 20:
            analysed = await asyncio.to_thread(lambda: [index.analyse(d) for d in fresh])
        else:
            analysed = [index.analyse(d) for d in fresh]
        for a in analysed:
            index.add(a)
        self._changed_since_save += len(analysed)
        return True

    async def _reconcile(self, kind: str) -> bool:
        """Make the indexed set of a kind equal the published set (deletes, missed rows)."""
        index = self.index
        assert index is not None
        published = await source.published_versions(kind)
        indexed = {
            key[1]: index.infos[slot] for key, slot in index.slot_of.items() if key[0] == kind
        }
        touched = False
        for doc_id in set(indexed) - set(published):
            touched |= index.remove((kind, doc_id))
        wanted = [i for i, v in published.items() if i not in indexed or indexed[i].version != v]  # type: ignore[union-attr]
        for start in range(0, len(wanted), PAGE):
            docs = await _docs_by_ids(kind, wanted[start : start + PAGE], self._today())
            touched |= await self._index_docs(docs)
        return touched

    async def _refresher(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            self._wake.clear()
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("search refresh failed; retrying at the next poll")

    async def _listen(self) -> None:
        """Wake the refresher when another process announces a change."""
        while not self._stopping.is_set():
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(CHANNEL)
                while not self._stopping.is_set():
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
                    if message is not None:
                        self._wake.set()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("search change listener lost Redis; polling only", exc_info=True)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), 5)
            finally:
                await pubsub.aclose()

    def stats(self) -> dict[str, Any]:
        index = self.index
        if index is None:
            return {"documents": 0}
        return {
            "documents": len(index),
            "slots": index.n_slots,
            "terms": len(index.main) + len(index.delta),
            "bytes": index.nbytes(),
        }


def _return_free_memory() -> None:
    """Hand the heap a build or load freed back to the OS: glibc keeps it for
    reuse otherwise, 10–20 MB at 100,000 documents (no-op without glibc)."""
    with contextlib.suppress(OSError, AttributeError, TypeError):
        ctypes.CDLL(None).malloc_trim(0)


async def _all_docs(today: dt.date) -> AsyncIterator[list[IndexDoc]]:
    """Every published document of every searchable kind, a page at a time (by id)."""
    for kind in source.searchable():
        last = ""
        while True:
            rows = await source.rows(kind, after=last, limit=PAGE)
            if not rows:
                break
            last = str(rows[-1]["id"])
            yield source.docs(kind, rows, today)


async def _changed_docs(
    index: InvertedIndex, kind: str, since: dt.datetime | None, today: dt.date
) -> tuple[list[IndexDoc], list[str]]:
    """Rows changed since a time: first only (id, version, status), then the
    full rows of those whose version differs from what is indexed."""
    if since is None:
        return await _docs_by_ids(kind, None, today), []
    changed, gone = [], []
    for doc_id, version, published in await source.versions_since(kind, since):
        if not published:
            gone.append(doc_id)
            continue
        slot = index.slot_of.get((kind, doc_id))
        info = index.infos[slot] if slot is not None else None
        if info is None or info.version != version:
            changed.append(doc_id)
    docs: list[IndexDoc] = []
    for start in range(0, len(changed), PAGE):
        docs += await _docs_by_ids(kind, changed[start : start + PAGE], today)
    return docs, gone


async def _docs_by_ids(kind: str, ids: Iterable[str] | None, today: dt.date) -> list[IndexDoc]:
    """Published documents for these ids (None: every published one)."""
    found = kind_of(kind)
    return source.docs(found, await source.rows(found, None if ids is None else list(ids)), today)


if TYPE_CHECKING:  # the edges need only these calls (bot.search.backend)
    _implements: type[SearchBackend] = SearchIndex
