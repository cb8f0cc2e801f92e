"""Synonym groups: the built-in policy vocabulary plus ``content/synonyms.txt`` (as synced).

A group is one line, canonical term first (``最低生活保障 低保 吃低保``). Every
document term that belongs to a group is also indexed as the group's token
(``~17``), so a query word from the group finds documents that use any
member — the abbreviation a resident types and the formal term the document
uses meet there. Groups are not merged transitively: a word in two groups
simply reaches both.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from bot.search.text import DATA, normalize, read_word_list

log = logging.getLogger("bot.search")

BUILTIN = DATA / "synonyms.txt"


class Synonyms:
    def __init__(self, groups: Iterable[Iterable[str]]) -> None:
        self.groups: list[tuple[str, ...]] = []
        self._by_term: dict[str, tuple[str, ...]] = {}
        by_term: dict[str, list[str]] = {}
        seen: set[frozenset[str]] = set()
        for raw in groups:
            terms = tuple(dict.fromkeys(t for t in (normalize(w).strip() for w in raw) if t))
            if len(terms) < 2 or frozenset(terms) in seen:
                continue
            seen.add(frozenset(terms))
            token = f"~{len(self.groups)}"
            self.groups.append(terms)
            for term in terms:
                by_term.setdefault(term, []).append(token)
        self._by_term = {term: tuple(tokens) for term, tokens in by_term.items()}

    @classmethod
    def with_builtin(cls, local: Iterable[Iterable[str]] = ()) -> Synonyms:
        """Built-in groups, then the deployment's own (``content/synonyms.txt`` as
        ``content sync`` stored it)."""
        return cls([*(line.split() for line in read_word_list(BUILTIN)), *local])

    def tokens_of(self, term: str) -> tuple[str, ...]:
        """The group tokens a (normalised) term belongs to."""
        return self._by_term.get(term, ())

    def group_terms(self, token: str) -> tuple[str, ...]:
        """The terms of a group token (``~17``)."""
        try:
            return self.groups[int(token[1:])]
        except (ValueError, IndexError):
            return ()

    def terms(self) -> list[str]:
        return list(self._by_term)

    def __len__(self) -> int:
        return len(self.groups)
