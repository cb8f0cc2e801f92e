"""What a resident's words mean before they are looked up.

Residents describe their situation (房子拆了, 五十多岁下岗了, 揭不开锅); documents
name the measure (产权调换, 就业困难人员, 基本生活困难). Three small models bridge
the two, each a data file written for the project, not tuned to any query set:

* the *life-event lexicon* (``data/lifeevents.yaml``): everyday words of the
  State Council's 高效办成一件事 life events (住房, 就业失业, 灾害, 身后 …) mapped
  to the terms documents use, with the pilot areas each event belongs to (the
  fallback when no document matches well);
* *question intents* (``data/intents.yaml``): phrases that ask for a part of a
  document (多少钱, 要什么材料, 去哪办, 找谁) — they say which passage to quote,
  and carry no subject, so they do not count when ranking documents;
* *numbers written in characters* and ages: 八十岁 → 80 → 高龄, 五十多岁 → 大龄.

Matching is by substring of the normalised query, longest first, so a key
covers every sentence it appears in; a key never overlaps another.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import yaml

from bot.search.text import DATA, normalize


@dataclass(frozen=True)
class Relation:
    """An everyday word and the document terms any of which answers it."""

    key: str
    terms: tuple[str, ...]
    event: str


@dataclass(frozen=True)
class Event:
    name: str
    areas: tuple[str, ...]


@dataclass(frozen=True)
class Intent:
    name: str
    ask: tuple[str, ...]
    cues: tuple[str, ...]
    pattern: re.Pattern[str] | None


@dataclass
class Understanding:
    """What the lexicon found in a query: matched spans, intents, age."""

    relations: list[tuple[int, int, Relation]] = field(default_factory=list)
    intents: list[str] = field(default_factory=list)
    asks: list[tuple[int, int]] = field(default_factory=list)  # spans of intent phrases
    text: str = ""  # the normalised query with numbers in digits

    @property
    def events(self) -> list[str]:
        """Life events the query is about, most mentioned first."""
        counts: dict[str, int] = {}
        for _s, _e, rel in self.relations:
            if rel.event:
                counts[rel.event] = counts.get(rel.event, 0) + 1
        return sorted(counts, key=lambda e: -counts[e])


_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
           "八": 8, "九": 9}  # fmt: skip
# A run of numeral characters with 十 or 百 in it is a number (八十, 一百二十, 九十多);
# a bare 一/二 is not changed (一级 disability, 二孩, 一门受理 stay words).
_CN_NUMBER = re.compile(
    r"[零一二两三四五六七八九]?百[零一二两三四五六七八九]?十?[一二三四五六七八九]?|[一二三四五六七八九]?十[一二三四五六七八九]?"
)
_AGE = re.compile(r"(\d{1,3})\s*多?\s*(?:周岁|岁)|(?:今年|满|已经|都)(\d{2,3})\s*多?\s*了")
AGE_TERMS = (
    (80, "养老", ("高龄", "80周岁", "高龄津贴", "老年人")),
    (60, "养老", ("老年人", "60周岁")),
    (40, "就业失业", ("大龄", "大龄失业人员")),
    (0, "儿童和未成年人", ("未成年人", "儿童")),
)


def _cn_to_int(text: str) -> int:
    total, digit = 0, 0
    for ch in text:
        if ch == "百":
            total += (digit or 1) * 100
            digit = 0
        elif ch == "十":
            total += (digit or 1) * 10
            digit = 0
        else:
            digit = _DIGITS.get(ch, 0)
    return total + digit


def numbers_to_digits(text: str) -> str:
    """八十岁 → 80岁, 一百多 → 100多; other characters unchanged."""
    return _CN_NUMBER.sub(lambda m: str(_cn_to_int(m.group(0))), text)


class Lexicon:
    def __init__(self, events: list[dict[str, Any]], intents: dict[str, dict[str, Any]]) -> None:
        self.events: dict[str, Event] = {}
        self.relations: dict[str, Relation] = {}
        for entry in events:
            name = str(entry["event"])
            self.events[name] = Event(name, tuple(str(a) for a in entry.get("areas") or ()))
            for key, terms in (entry.get("words") or {}).items():
                norm = normalize(str(key))
                self.relations[norm] = Relation(norm, tuple(normalize(str(t)) for t in terms), name)
        self.intents = {
            name: Intent(
                name,
                tuple(normalize(a) for a in spec.get("ask") or ()),
                tuple(normalize(c) for c in spec.get("cues") or ()),
                re.compile(spec["pattern"]) if spec.get("pattern") else None,
            )
            for name, spec in intents.items()
        }
        asks = sorted(
            ((a, i.name) for i in self.intents.values() for a in i.ask), key=lambda p: -len(p[0])
        )
        self._intent_of = dict(reversed(asks))  # the first (longest) phrase's intent wins
        # One alternation, longest first: at each position the longest phrase matches.
        self._asks = re.compile("|".join(re.escape(a) for a, _i in asks)) if asks else None
        self._longest = max((len(k) for k in self.relations), default=0)

    @classmethod
    def load(cls) -> Lexicon:
        return _builtin()

    def with_rules(self, rules: Iterable[tuple[str, Iterable[str]]]) -> Lexicon:
        """This lexicon plus staff's rules (``bot.search.rules``): each word also
        means its terms; rules on the same word add up."""
        extra = copy.copy(self)
        extra.relations = dict(self.relations)
        for word, terms in rules:
            key = normalize(word).strip()
            if not key:
                continue
            old = extra.relations.get(key)
            merged = (*(old.terms if old else ()), *(normalize(t) for t in terms))
            extra.relations[key] = Relation(
                key, tuple(dict.fromkeys(merged)), old.event if old else ""
            )
        extra._longest = max((len(k) for k in extra.relations), default=0)
        return extra

    def terms(self) -> list[str]:
        """Every word the lexicon knows, for the analyzer's dictionary."""
        words = set(self.relations)
        for rel in self.relations.values():
            words.update(rel.terms)
        return sorted(w for w in words if not w.startswith("#"))

    def understand(self, normalised: str) -> Understanding:
        text = numbers_to_digits(normalised)
        found = Understanding(text=text)
        taken = [False] * len(text)
        for m in self._asks.finditer(text) if self._asks else ():
            taken[m.start() : m.end()] = [True] * (m.end() - m.start())
            found.asks.append((m.start(), m.end()))
            intent = self._intent_of[m.group(0)]
            if intent not in found.intents:
                found.intents.append(intent)
        candidates = []
        for start in range(len(text)):
            for end in range(min(len(text), start + self._longest), start, -1):
                rel = self.relations.get(text[start:end])
                if rel is not None:
                    candidates.append((end - start, start, end, rel))
        for _n, start, end, rel in sorted(candidates, key=lambda c: (-c[0], c[1])):
            if any(taken[start:end]):
                continue
            taken[start:end] = [True] * (end - start)
            found.relations.append((start, end, rel))
        for m in _AGE.finditer(text):
            if any(taken[m.start() : m.end()]):
                continue
            age = int(m.group(1) or m.group(2))
            for floor, event, terms in AGE_TERMS:
                if age >= floor:
                    taken[m.start() : m.end()] = [True] * (m.end() - m.start())
                    found.relations.append((m.start(), m.end(), Relation(m.group(0), terms, event)))
                    break
        found.relations.sort(key=lambda r: r[0])
        return found


@lru_cache(maxsize=1)
def _builtin() -> Lexicon:
    events = yaml.safe_load((DATA / "lifeevents.yaml").read_text(encoding="utf-8"))
    intents = yaml.safe_load((DATA / "intents.yaml").read_text(encoding="utf-8"))
    return Lexicon(events, intents)
