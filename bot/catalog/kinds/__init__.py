"""Content kinds are a registry: each kind declares, in its own module, what it is.

A ``Kind`` says in one place what the rest of the service needs to know about
one sort of published document (a policy, an interpretation, a catalog item,
a consultation): its model and when a row counts as published, its
content files and front-matter fields, how ``content sync`` writes it, how it
is indexed for search (Wagtail-style ``search_fields``), its page URL and
route name, its open-data JSON and its feed entry. The loader, sync, the
search source, the feed and the pages iterate ``all_kinds()`` instead of
switching on ``kind == "policy"``.

Adding a kind: write one module that builds its ``Kind`` and calls
``register``, and add the module's name to ``KIND_MODULES``. A Markdown kind's
model has the columns sync writes for every document (``id``, ``status``
(``Status``), ``body_md``, ``body_html``, ``source_path``, ``content_hash``,
``created_at``, ``updated_at``) beside its own ``columns``; a searchable kind's
table has ``updated_at`` (the search index's change marker reads it). Its page
view, template and JSON routes stay at the edge (``bot/web/``), routed at the
``path`` and ``route`` the kind declares.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

if TYPE_CHECKING:
    from bot.catalog.fields import Spec
    from bot.catalog.loader import Reader
    from bot.catalog.sync import SyncJob
    from bot.config import Settings

# Imported (so registered) in this order; ``all_kinds`` puts a parent before its children.
KIND_MODULES = [
    "bot.catalog.kinds.policy",
    "bot.catalog.kinds.interpretation",
    "bot.catalog.kinds.catalog_item",
    "bot.catalog.kinds.consultation",
]

Row = dict[str, Any]


@dataclass(frozen=True)
class SearchField:
    """A column indexed for search. ``into`` is the index field it feeds, and with
    it its boost (``bot.search.index.WEIGHTS``: title 4, keywords 3, summary 2,
    meta 1, body 0.7). A list column (keywords, related names) is indexed as phrases."""

    column: str
    into: str = "body"


@dataclass(frozen=True)
class FeedEntry:
    """One Atom entry: ``day`` is the publication date, ``changed`` the fallback time."""

    day: dt.date | None
    changed: dt.datetime
    path: str
    title: str
    author: str
    summary: str
    category: str


@dataclass(frozen=True)
class Kind:
    name: str  # in search results, audit entries, sync reports: "policy"
    label: str  # what residents read: 政策文件
    model: type[Model]
    path: str  # the page, as in the route table: "/policies/{id}"
    route: str  # the page's route name
    published: dict[str, Any]  # the filter a published row matches, e.g. {"status": "published"}

    # Content files: Markdown with front matter in ``folder`` (read by the generic
    # reader into ``document`` through ``fields``), or a reader of its own (``read``).
    folder: str | None = None
    fields: dict[str, Spec] = field(default_factory=dict)
    document: type | None = None
    check: Callable[[Reader, Any], bool] | None = None  # (reader, doc) → keep it?
    read: Callable[[Reader], None] | None = None  # for kinds not in Markdown
    # content sync: the kind's own columns for a document (the common ones are added)
    columns: Callable[[Any], dict[str, Any]] | None = None
    parent: str | None = None  # a kind this one belongs to: its rows go when the parent goes
    parent_key: str | None = None  # the front-matter field naming the parent ("policy")
    parent_column: str | None = None  # the column holding the parent's id ("policy_id")
    # Front-matter fields the loader's rules across files read, with their columns: an
    # unchanged file that sync skips supplies them from its row ({"policy": "policy_id"}).
    cross_file: dict[str, str] = field(default_factory=dict)
    # What ``check`` reads outside the file (a policy's attachments), run again on an
    # unchanged file's row (``loader.Unchanged``): False has the file read in full.
    recheck: Callable[[Reader, Any], bool] | None = None
    after_write: Callable[[BaseDBAsyncClient, list[str], list[Any]], Awaitable[None]] | None = None
    sync: Callable[[SyncJob], Awaitable[None]] | None = None  # for kinds not in Markdown
    announces_publication: bool = False  # newly published rows go to ``catalog.events``
    # After the sync committed (given the settings): e.g. announce what opened.
    after_sync: Callable[[Settings], Awaitable[Any]] | None = None
    # Console-made rows (of this kind and its children) whose files now say exactly what
    # was published: sync takes them over instead of refusing them ({kind: ids}).
    adopt: (
        Callable[[BaseDBAsyncClient, dict[str, list[Any]]], Awaitable[dict[str, set[str]]]] | None
    ) = None

    # Search: columns read, values of relations (name → ``relation__column``), what a hit shows.
    search_fields: Sequence[SearchField] = ()
    search_related: dict[str, str] = field(default_factory=dict)
    search_columns: Sequence[str] = ()  # more columns ``search_info`` needs
    search_info: Callable[[Row, dt.date], dict[str, Any]] | None = None
    int_ids: bool = False  # an integer primary key (ids travel as text)

    # Open data and the feed.
    open_data: Callable[[list[Any], str, dt.date], Awaitable[list[dict[str, Any]]]] | None = None
    feed_entry: Callable[[Any], FeedEntry] | None = None
    # More conditions, as of today, for a published row to enter the feed (a
    # consultation is published ahead of its opening day and fed from it).
    feed_filter: Callable[[dt.date], dict[str, Any]] | None = None

    def url(self, base_url: str, doc_id: object) -> str:
        return base_url + self.path.format(id=doc_id)

    async def json(self, rows: list[Any], base_url: str, day: dt.date) -> list[dict[str, Any]]:
        """Rows in the kind's open-data shape."""
        if self.open_data is None:
            raise LookupError(f"content kind {self.name!r} has no open data")
        return await self.open_data(rows, base_url, day)

    @property
    def published_field(self) -> tuple[str, Any]:
        ((column, value),) = self.published.items()
        return column, value

    def is_published(self, value: Any) -> bool:
        """Whether a value of the ``published`` column (as read) means published."""
        wanted = self.published_field[1]
        if isinstance(wanted, str):
            return str(getattr(value, "value", value)) == str(wanted)
        return bool(value) == bool(wanted)

    @property
    def table(self) -> str:
        return self.model._meta.db_table

    def published_sql(self) -> str:
        column, value = self.published_field
        literal = f"'{value}'" if isinstance(value, str) else ("TRUE" if value else "FALSE")
        return f'"{column}" = {literal}'


_REGISTRY: dict[str, Kind] = {}
_ordered: list[Kind] = []  # the registry, parents first; rebuilt when a kind registers
_loaded = False


def register(kind: Kind) -> Kind:
    if kind.name in _REGISTRY and _REGISTRY[kind.name] is not kind:
        raise ValueError(f"content kind {kind.name!r} registered twice")
    _REGISTRY[kind.name] = kind
    _ordered.clear()
    return kind


def _load() -> None:
    global _loaded
    if not _loaded:
        for module in KIND_MODULES:
            importlib.import_module(module)
        _loaded = True


def all_kinds() -> list[Kind]:
    """Every registered kind: in registration order, except that a parent comes first."""
    _load()
    if not _ordered:
        waiting = list(_REGISTRY.values())
        while waiting:
            done = {k.name for k in _ordered}
            ready = [k for k in waiting if k.parent is None or k.parent in done]
            if not ready:
                raise LookupError(f"content kinds with an unknown parent: {waiting}")
            _ordered.append(ready[0])
            waiting.remove(ready[0])
    return list(_ordered)


def kind(name: str) -> Kind:
    _load()
    return _REGISTRY[name]


def names() -> list[str]:
    return [k.name for k in all_kinds()]
