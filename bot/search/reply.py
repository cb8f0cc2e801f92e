"""The chat text for search results: short enough for one WeChat text reply
(under 2048 bytes of UTF-8) and readable on a phone — per result its title,
文号 or date, link, and its interpretations' links beside it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from bot.config import Settings
from bot.handlers.types import TEXT_REPLY_LIMIT, fit_bytes
from bot.search.hits import Found, Hit

MAX_RESULTS = 5
MAX_INTERPRETATIONS = 2  # per policy; more would crowd out the next result
_QUERY_ECHO = 24  # characters of the query repeated back

_FORM_LABEL = {"文字解读": "解读", "媒体报道": "报道"}


def _echo(query: str) -> str:
    query = " ".join(query.split())
    return query if len(query) <= _QUERY_ECHO else query[:_QUERY_ECHO] + "…"


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _entry(number: int, hit: Hit) -> str:
    lines = [f"{number}. {hit.title}"]
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
    lines.append(hit.url)
    replacement = hit.replaced_by
    if isinstance(replacement, Hit):
        lines.append(f"现行文件：{replacement.title}")
        lines.append(replacement.url)
    # Interpretation titles repeat the policy's; the form and link say enough on a phone.
    for _title, url, form in hit.interpretations[:MAX_INTERPRETATIONS]:
        label = _FORM_LABEL.get(form, form or "解读")
        lines.append(f"{label}：{url}")
    return "\n".join(lines)


def preface(found: Found) -> str:
    """What comes before the list: the correction made, the fallback's plain
    notice, and the quoted passage that answers the question."""
    lines = []
    if found.corrected:
        lines.append(f"已按“{_echo(found.corrected)}”为您查找。")
    passage = found.passage
    if passage is not None:
        where = " ".join(x for x in (passage.doc_number or passage.source, passage.section) if x)
        lines.append(f"【{where}】{passage.text}" if where else passage.text)
        lines.append(f"原文：{passage.url}")
    return "\n".join(lines)


def format_found(found: Found, settings: Settings | None = None) -> str:
    """The reply for a whole search answer (see ``SearchIndex.find``)."""
    head = None
    if found.fallback:
        head = f"没有找到完全对应的文件，以下是与“{found.fallback}”有关的政策："
    return format_results(found.query, found.hits, settings, preface=preface(found), head=head)


def format_results(
    query: str,
    hits: Sequence[Hit],
    settings: Settings | None = None,
    *,
    preface: str = "",
    head: str | None = None,
) -> str:
    """The reply listing ``hits`` (best first); whole entries only, within WeChat's limit."""
    if not hits:
        return nothing_found(query, ())
    hits = list(hits)[:MAX_RESULTS]
    head = head or f"为您找到与“{_echo(query)}”相关的内容："
    if preface:
        head = f"{preface}\n\n{head}"
    tail_more = "\n\n还有更多结果，换个更具体的说法可以查得更准。"
    tail = "\n\n发送“留言 您的问题”可咨询工作人员。"
    parts = [head]
    used = _size(head) + max(_size(tail), _size(tail_more))
    shown = 0
    for number, hit in enumerate(hits, start=1):
        block = "\n\n" + _entry(number, hit)
        if used + _size(block) > TEXT_REPLY_LIMIT:
            break
        parts.append(block)
        used += _size(block)
        shown += 1
    if shown == 0:  # one enormous title: cut it rather than answer nothing
        parts.append("\n\n" + _entry(1, hits[0]))
    parts.append(tail_more if shown < len(hits) else tail)
    return fit_bytes("".join(parts), TEXT_REPLY_LIMIT)


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
