"""Answers, not only links: the one or two sentences of a document that answer
a question about amounts, conditions, materials, procedure, place or contacts.

The document's stored HTML is cut into the blocks the renderer numbered
(``id="p-3"``, see ``bot.catalog.render``) and each block into sentences. A
sentence scores by the query's words it contains (idf-weighted, as ranking
weighs them) plus the intent's cue words and pattern (an amount question
wants ``…元``); the best sentence is quoted with the heading or 第N条 it stands
under, and the link opens the page at its block.
"""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.search.hits import Passage
from bot.search.text import normalize
from bot.search.understand import Intent

_BLOCK = re.compile(r'<(p|li|h[1-6]|tr|blockquote)\b[^>]*\bid="(p-\d+)"[^>]*>(.*?)</\1>', re.S)
_TAG = re.compile(r"<[^>]+>")
_BREAK = re.compile(r"<br\s*/?>", re.I)
_SENTENCE = re.compile(r"[^。；;！!？?\n]+[。；;！!？?]?")
_ARTICLE = re.compile(r"^(第[一二三四五六七八九十百零〇\d]+条)")
CUE_WEIGHT = 0.25  # per cue word, at most CUE_CAP in all
CUE_CAP = 1.0
PATTERN_WEIGHT = 0.8
TITLE_FACTOR = 0.3  # a word of the document's title is in every sentence's context already
MAX_CHARS = 160  # a quote stays a quote on a phone screen
SECOND_SHARE = 0.7  # a second sentence is added when it scores this share of the first


@dataclass
class _Sentence:
    text: str
    section: str | None
    anchor: str
    block: int


def sentences(body_html: str) -> list[_Sentence]:
    """The document's sentences, each with its section heading or article and anchor."""
    out: list[_Sentence] = []
    heading: str | None = None
    for n, m in enumerate(_BLOCK.finditer(body_html)):
        tag, anchor, inner = m.group(1), m.group(2), m.group(3)
        inner = _BREAK.sub("\n", inner)  # a line of its own (nl2br) ends a sentence
        text = re.sub(r"[ \t\r\f\v]+", " ", htmllib.unescape(_TAG.sub(" ", inner))).strip()
        if not text:
            continue
        if tag.startswith("h"):
            heading = text
            continue
        section = heading
        for piece in _SENTENCE.findall(text):
            piece = piece.strip()
            article = _ARTICLE.match(piece)
            if article:  # lines of one paragraph may each be an article
                section = f"{heading} {article.group(1)}" if heading else article.group(1)
            if len(piece) >= 4:
                out.append(_Sentence(piece, section, anchor, n))
    return out


def best_passage(
    body_html: str,
    terms: Sequence[tuple[str, float]],
    intents: Iterable[Intent],
    title: str = "",
) -> Passage | None:
    """The best answering sentences, or None when nothing in the text answers.

    A sentence's score is the share of the query's (idf-weighted) words it has —
    words of the document's title count less, every sentence is about them — plus
    how much it looks like the asked-for part (cue words, the intent's pattern)."""
    intents = list(intents)
    candidates = sentences(body_html)
    if not candidates or not intents:
        return None
    heading = normalize(title)
    weighted = [(t, w * (TITLE_FACTOR if t in heading else 1.0)) for t, w in terms if t]
    total = sum(w for _t, w in weighted) or 1.0
    scored = []
    for sentence in candidates:
        norm = normalize(sentence.text)
        matched = sum(w for t, w in weighted if t in norm) / total
        if matched <= 0:
            continue
        shape = 0.0
        for intent in intents:
            shape += min(CUE_CAP, CUE_WEIGHT * sum(1 for c in intent.cues if c in norm))
            if intent.pattern is not None and intent.pattern.search(sentence.text):
                shape += PATTERN_WEIGHT
        scored.append((matched + shape, sentence))
    if not scored:
        return None
    scored.sort(key=lambda s: -s[0])
    top_score, top = scored[0]
    text = top.text
    for score, other in scored[1:3]:
        if (
            other.block == top.block
            and score >= SECOND_SHARE * top_score
            and len(text) + len(other.text) <= MAX_CHARS
        ):
            first, second = sorted((top, other), key=lambda s: candidates.index(s))
            text = first.text + second.text
            break
    article = _ARTICLE.match(text)
    if article and top.section and top.section.endswith(article.group(1)):
        text = text[article.end() :].lstrip()  # the section already names the article
    if len(text) > MAX_CHARS:
        text = text[: MAX_CHARS - 1] + "…"
    return Passage(text=text, section=top.section, anchor=top.anchor)
