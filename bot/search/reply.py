"""The chat text for search results, readable on a phone: a few results (three
by default, ``chat.max_results``), each a tappable title in WeChat's link form
(``<a href="…">标题</a>`` in a text reply) with its 文号 or date and its
interpretations' links beside it; the rest follow when the resident sends
“更多”. A query typed in traditional characters is answered in traditional
characters with links to the 繁體 pages (``?variant=hant``).

Everything is counted in UTF-8 bytes, markup included: a text reply must stay
under WeChat's 2048 bytes, and only whole entries are shown.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

import opencc

from bot.search.hits import Found, Hit
from bot.text import TEXT_REPLY_LIMIT, fit_bytes

MAX_RESULTS = 3  # default page size (``chat.max_results``)
MAX_INTERPRETATIONS = 2  # per policy; more would crowd out the next result
TITLE_CHARS = 60  # a longer title is cut: three entries must fit one reply
_QUERY_ECHO = 24  # characters of the query repeated back

_FORM_LABEL = {"文字解读": "解读", "媒体报道": "报道"}
MORE_WORD = "更多"


@cache
def _s2t() -> opencc.OpenCC:
    return opencc.OpenCC("s2t")


@cache
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def is_traditional(text: str) -> bool:
    """Typed in traditional characters: converting to simplified changes it."""
    return _t2s().convert(text) != text


def _echo(query: str) -> str:
    query = " ".join(query.split())
    return query if len(query) <= _QUERY_ECHO else query[:_QUERY_ECHO] + "…"


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _href(url: str, hant: bool) -> str:
    if hant:
        url += ("&" if "?" in url else "?") + "variant=hant"
    return html.escape(url, quote=True)


def link(url: str, label: str, hant: bool = False) -> str:
    """WeChat's link form in a text reply; the label cannot break out of the tag."""
    label = label if len(label) <= TITLE_CHARS else label[: TITLE_CHARS - 1] + "…"
    label = label.replace("<", "＜").replace(">", "＞")
    return f'<a href="{_href(url, hant)}">{label}</a>'


def _entry(number: int, hit: Hit, hant: bool) -> str:
    lines = [f"{number}. {link(hit.url, hit.title, hant)}"]
    facts = []
    if hit.kind == "policy":
        facts.append(hit.doc_number or (f"{hit.date} 发布" if hit.date else ""))
    elif hit.kind == "interpretation":
        facts.append(hit.form or "政策解读")
        if hit.date:
            facts.append(f"{hit.date} 发布")
    elif hit.kind == "catalog_item":
        facts.append("公开事项目录" + (f"·{hit.area}" if hit.area else ""))
    if hit.validity and hit.validity != "有效":
        facts.append(f"【已{hit.validity}】")
    fact = " ".join(f for f in facts if f)
    if fact:
        lines.append(fact)
    replacement = hit.replaced_by
    if isinstance(replacement, Hit):
        lines.append(f"现行文件：{link(replacement.url, replacement.title, hant)}")
    # Interpretation titles repeat the policy's; the form says enough on a phone.
    readings = [
        link(url, _FORM_LABEL.get(form, form or "解读"), hant)
        for _title, url, form in hit.interpretations[:MAX_INTERPRETATIONS]
    ]
    if readings:
        lines.append("看解读：" + " ".join(readings))
    return "\n".join(lines)


def preface(found: Found, hant: bool = False) -> str:
    """What comes before the list: the correction made and the quoted passage
    that answers the question, with the 文号 and section it comes from."""
    lines = []
    if found.corrected:
        lines.append(f"已按“{_echo(found.corrected)}”为您查找。")
    passage = found.passage
    if passage is not None:
        where = " ".join(x for x in (passage.doc_number or passage.source, passage.section) if x)
        lines.append(f"【{where}】{passage.text}" if where else passage.text)
        lines.append(link(passage.url, "查看原文", hant))
    return "\n".join(lines)


def format_found(found: Found, *, start: int = 0, page: int = MAX_RESULTS) -> tuple[str, int]:
    """The reply for a whole search answer (``SearchIndex.find``): on the first
    page the correction, the quoted answer, or the fallback's plain notice."""
    made = found.replies.get((start, page))
    if made is not None:
        return made
    head = None
    if found.fallback and not start:
        head = f"没有找到完全对应的文件，以下是与“{found.fallback}”有关的政策："
    lead = "" if start else preface(found, is_traditional(found.query))
    made = format_results(found.query, found.hits, start=start, page=page, preface=lead, head=head)
    found.replies[(start, page)] = made
    return made


def format_results(
    query: str,
    hits: Sequence[Hit],
    *,
    start: int = 0,
    page: int = MAX_RESULTS,
    preface: str = "",
    head: str | None = None,
) -> tuple[str, int]:
    """The reply showing ``hits[start:]`` (best first, numbered on from ``start``),
    at most ``page`` whole entries within WeChat's limit, and how many it showed;
    it invites “更多” while some of ``hits`` remain."""
    hant = is_traditional(query)
    hits = list(hits)
    if start >= len(hits):
        return nothing_found(query, ()), 0
    head = head or (
        f"与“{_echo(query)}”相关的更多内容："
        if start
        else f"为您找到与“{_echo(query)}”相关的内容："
    )
    if preface:
        head = f"{preface}\n\n{head}"
    tail_more = f"\n\n发送“{MORE_WORD}”查看其余结果。"
    tail = "\n\n发送“留言 您的问题”可咨询工作人员。"
    parts = [head]
    used = _size(head) + max(_size(tail), _size(tail_more))
    shown = 0
    for number, hit in enumerate(hits[start : start + page], start=start + 1):
        block = "\n\n" + _entry(number, hit, hant)
        if used + _size(block) > TEXT_REPLY_LIMIT and shown:
            break
        parts.append(block)
        used += _size(block)
        shown += 1
    parts.append(tail_more if start + shown < len(hits) else tail)
    text = "".join(parts)
    if hant:
        text = _s2t().convert(text)
    return text, shown


def _topic_names(topics: Iterable[Any]) -> list[str]:
    names = []
    for topic in topics:
        name = topic if isinstance(topic, str) else getattr(topic, "name", "")
        if name:
            names.append(str(name))
    return names


def nothing_found(query: str, topics: Iterable[Any] = ()) -> str:
    """Say plainly that nothing matched, and what the resident can do next."""
    names = _topic_names(topics)
    lines = [f"抱歉，没有找到与“{_echo(query)}”相关的政策文件。", "您可以："]
    lines.append("1. 换个说法或用更短的关键词再试试，也可以直接发送文号；")
    if names:
        shown = "、".join(names[:12])
        lines.append(f"2. 发送“订阅 主题名”接收新政策推送，可订阅：{shown}；")
    else:
        lines.append("2. 发送“订阅”查看可订阅的政策主题；")
    lines.append("3. 发送“留言 您的问题”，工作人员会尽快答复；")
    lines.append("4. 发送“帮助”查看全部功能。急事请拨打 12345 政务服务便民热线。")
    return fit_bytes("\n".join(lines), TEXT_REPLY_LIMIT)
