"""Markdown → safe HTML, done once when a document is saved.

Content comes from files and from the admin API, so it is treated as hostile:
whatever Markdown lets through (raw HTML, ``javascript:`` links, event
attributes) is cleaned by nh3 before it is stored; pages only ever show the
stored, cleaned HTML.
"""

from __future__ import annotations

import contextlib
import html as htmllib
import multiprocessing
import os
import re
import sys
import threading
import types
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import markdown
import markdown.treeprocessors
import markdown.util
import nh3
from markdown.extensions import Extension
from markdown.preprocessors import Preprocessor

# Bump when rendering changes, so that ``content sync`` re-renders every file.
RENDER_VERSION = "3"

_LIST_ITEM = re.compile(r"^ {0,3}(?:[-*+]|\d{1,9}[.)])\s+\S")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


class _ListsAfterText(Preprocessor):
    """Lists as staff write them: a list right under a line of text starts a list, and
    a line of text right under a list starts a new paragraph. Markdown would merge
    both into the neighbouring paragraph or item; an empty line is put between."""

    def run(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        fenced = False
        for line in lines:
            if _FENCE.match(line):
                fenced = not fenced
            elif not fenced and out and line.strip() and out[-1].strip():
                before, item = out[-1], bool(_LIST_ITEM.match(line))
                if (item and _is_text(before)) or (_LIST_ITEM.match(before) and _is_text(line)):
                    out.append("")
            out.append(line)
        return out


def _is_text(line: str) -> bool:
    """A paragraph line: not a list item, an indented continuation, a table row or a quote."""
    return not _LIST_ITEM.match(line) and not line.startswith((" ", "\t", "|", ">", "#"))


class _StaffMarkdown(Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.preprocessors.register(_ListsAfterText(md), "lists_after_text", 26)


class _Anchors(markdown.treeprocessors.Treeprocessor):
    """Number every paragraph, list item, heading and table row (``id="p-3"``),
    so a chat reply that quotes a passage links to the page opened at it."""

    BLOCKS = frozenset({"p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "blockquote"})

    def run(self, root: Any) -> None:
        n = 0
        for element in root.iter():
            if (element.text or "").startswith(markdown.util.STX) and not len(element):
                continue  # a placeholder for raw HTML or code: Markdown unwraps it later
            if element.tag in self.BLOCKS:
                n += 1
                element.set("id", f"p-{n}")


class _AnchorExtension(markdown.Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.treeprocessors.register(_Anchors(md), "policybot_anchors", 0)


# ``nl2br`` keeps single line breaks (the 落款 lines, 图解 captions) the way staff type them.
_EXTENSIONS: list[Any] = [
    "tables",
    "sane_lists",
    "fenced_code",
    "attr_list",
    "nl2br",
    _StaffMarkdown(),
    _AnchorExtension(),
]
ANCHOR = re.compile(r"^p-\d+$")
_TAGS = nh3.ALLOWED_TAGS - {"map", "area", "center", "strike", "tt", "acronym"}
_SCHEMES = {"http", "https", "mailto", "tel"}
_TAG_RE = re.compile(r"<[^>]+>")


_local = threading.local()


def render_markdown(text: str) -> str:
    """Render Markdown and sanitise the result; safe to insert into a page as is."""
    md = getattr(_local, "md", None)
    if md is None:  # building a Markdown instance is a good part of the cost: keep one per thread
        md = _local.md = markdown.Markdown(extensions=_EXTENSIONS, output_format="html")
    md.reset()
    return sanitize_html(md.convert(text))


def render_many(texts: Sequence[str]) -> list[str]:
    """Render many bodies in one go (what a ``BackgroundRenderer`` process runs)."""
    return [render_markdown(t) for t in texts]


class BackgroundRenderer:
    """Renders texts while the caller goes on (``content sync`` adds each changed body
    as the loader reads it): batches go to a process per core once there are enough
    to pay for starting them; the rest is rendered by ``results`` itself."""

    BATCH = 500

    def __init__(self) -> None:
        self.pending: dict[str, str] = {}  # key → text
        self.batches: list[tuple[dict[str, str], Future[list[str]]]] = []
        self.pool: ProcessPoolExecutor | None = None
        self.workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1

    def add(self, key: str, text: str) -> None:
        """Called from one thread at a time (the loader's)."""
        self.pending[key] = text
        if len(self.pending) >= self.BATCH and self.workers > 1:
            batch, self.pending = self.pending, {}
            if self.pool is None:  # spawned: forking a process that has threads is unsafe
                spawn = multiprocessing.get_context("spawn")
                self.pool = ProcessPoolExecutor(self.workers, mp_context=spawn)
            with _main_not_inherited():  # workers start as batches are submitted
                self.batches.append((batch, self.pool.submit(render_many, list(batch.values()))))

    def results(self) -> dict[str, str]:
        """Every key's HTML; waits for the workers (so run it off the event loop)."""
        out = dict(zip(self.pending, render_many(list(self.pending.values())), strict=True))
        for batch, future in self.batches:
            try:
                html = future.result()
            except BrokenProcessPool:  # a worker died (killed, out of memory): do it here
                html = render_many(list(batch.values()))
            out.update(zip(batch, html, strict=True))
        return out

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


@contextlib.contextmanager
def _main_not_inherited() -> Iterator[None]:
    """Workers need only this module: without this, a spawned process first runs the
    caller's main script again (one without ``if __name__ == "__main__"`` would run
    all of itself in every worker)."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def _keep_anchor(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "id":
        return value if ANCHOR.match(value) else None  # our own anchors, never the author's
    return value


_ATTRIBUTES = {tag: {*attrs, "id"} for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()}
for _tag in _Anchors.BLOCKS:
    _ATTRIBUTES.setdefault(_tag, set()).add("id")


def sanitize_html(html: str) -> str:
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        attribute_filter=_keep_anchor,
        url_schemes=_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def safe_url(url: str | None) -> str | None:
    """Keep only http(s) links (media_url is shown as a link on pages)."""
    if url and re.match(r"^https?://[^\s<>\"']+$", url.strip(), re.IGNORECASE):
        return url.strip()
    return None


def plain_text(html: str, limit: int = 120) -> str:
    """A short text excerpt of rendered HTML (for feeds and lists)."""
    text = re.sub(r"\s+", " ", htmllib.unescape(_TAG_RE.sub(" ", html))).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"
