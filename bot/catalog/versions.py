"""Versions and their fingerprints: what a reviewer saw, and what changed since.

``content_hash`` is the one digest of "the exact text and metadata" used to
bind an approval to what was reviewed, for policies and campaigns alike: the
value is serialised as canonical JSON (sorted keys, dates in ISO form, enums
by value), so the same content always gives the same hash in every process.
``diff_html`` shows a reviewer what a draft changes against the published
version, line by line, escaped (the text was written by staff, not by us).
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import html
from enum import Enum
from typing import Any

import orjson


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    raise TypeError(f"cannot fingerprint {type(value).__name__}")


def canonical(value: Any) -> bytes:
    """The stable serialisation the hash is taken of."""
    return orjson.dumps(value, default=_plain, option=orjson.OPT_SORT_KEYS)


def content_hash(value: Any) -> str:
    """SHA-256 (hex) of ``value``'s canonical JSON: equal content, equal hash."""
    return hashlib.sha256(canonical(value)).hexdigest()


def as_lines(snapshot: dict[str, Any]) -> list[str]:
    """A version as readable lines: metadata ``key: value``, then each body."""
    lines: list[str] = []
    for key in sorted(k for k in snapshot if k not in ("body_md", "interpretations")):
        value = snapshot[key]
        shown = "、".join(map(str, value)) if isinstance(value, list) else value
        lines.append(f"{key}: {'' if shown is None else shown}")
    lines += ["", "正文：", *str(snapshot.get("body_md", "")).splitlines()]
    for interp in snapshot.get("interpretations", []):
        lines += ["", f"解读 {interp.get('id')}（{interp.get('form', '')}）：{interp.get('title')}"]
        lines += str(interp.get("body_md", "")).splitlines()
    return lines


def diff_html(before: dict[str, Any] | None, after: dict[str, Any]) -> str:
    """An HTML table of what ``after`` changes against ``before`` (all text escaped).

    Rows carry the classes ``add``, ``del`` and ``same`` for the console to style;
    unchanged stretches are cut down to three lines of context."""
    old, new = as_lines(before) if before else [], as_lines(after)
    rows: list[str] = []
    for group in difflib.SequenceMatcher(None, old, new, autojunk=False).get_grouped_opcodes(3):
        if rows:
            rows.append('<tr class="gap"><td colspan="2">…</td></tr>')
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                rows += [_row("same", " ", line) for line in old[i1:i2]]
                continue
            rows += [_row("del", "−", line) for line in old[i1:i2]]
            rows += [_row("add", "+", line) for line in new[j1:j2]]
    if not rows:
        return '<p class="diff-none">与已发布版本相同。</p>'
    return '<table class="diff">' + "".join(rows) + "</table>"


def _row(kind: str, mark: str, line: str) -> str:
    return f'<tr class="{kind}"><th>{mark}</th><td>{html.escape(line)}</td></tr>'
