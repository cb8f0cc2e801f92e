"""Text analysis shared by indexing and querying, so both sides agree.

* ``normalize``: NFKC (full-width letters, digits and brackets to half-width),
  OpenCC traditional → simplified, lower case — 拆遷補償 and 拆迁补偿 become
  the same string.
* ``Analyzer``: jieba segmentation with the policy-domain user dictionary and
  every synonym term added as a word. Index terms are jieba's precise cut plus
  the dictionary words contained in longer tokens (农村危房改造 also yields 危房,
  改造, 危房改造), so a query word that is part of a longer document word still
  matches. Function words and question words (``stopwords.txt``) are dropped.
* ``find_doc_numbers``: 文号 typed any common way (〔〕 [] 【】 () 年, 第, spaces,
  with or without 号) parsed into (issuer prefix, year, number).

jieba's dictionary takes about a second to load; it is loaded once per process
(``analyzer()``), with its cache in the system temp folder. Its part-of-speech
tags are read into two numpy arrays (``PosTags``) instead of importing
``jieba.posseg``, whose tagging HMM and tag dict cost about 50 MB per process.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import BinaryIO

import jieba
import numpy as np
import opencc

log = logging.getLogger("bot.search")

DATA = resources.files("bot.search") / "data"

_CJK = "\u4e00-\u9fff"
_OPEN = r"[〔\[【(（{〖［<《]"
_CLOSE = r"[〕\]】)）}〗］>》]"
# prefix (issuer abbreviation) · year · number: 青政办〔2024〕12号, 青政办2024年第12号,
# 青政办[2024]12, 青政办 2024 12号. With neither brackets nor 年, 号 is required.
_DOCNO = re.compile(
    rf"(?P<prefix>[{_CJK}a-z]{{0,12}}?)\s*"
    rf"(?:(?P<open>{_OPEN})\s*(?P<y1>(?:19|20)\d{{2}})\s*{_CLOSE}\s*(?:年\s*)?"
    rf"|(?P<y2>(?:19|20)\d{{2}})\s*年\s*"
    rf"|(?P<y3>(?:19|20)\d{{2}})\s*[-—–.·/ ]?\s*)"
    rf"第?\s*(?P<num>\d{{1,4}})\s*(?P<hao>号)?"
)
_PUNCT = re.compile(rf"^[^{_CJK}0-9a-z]+$")


@lru_cache(maxsize=1)
def _converter() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def normalize(text: str) -> str:
    """Half-width, simplified, lower-case form used on both sides of the index."""
    if not text:
        return ""
    return _converter().convert(unicodedata.normalize("NFKC", text)).lower()


@dataclass(frozen=True)
class DocNumber:
    """A parsed 文号: ``prefix`` is whatever issuer characters preceded the year."""

    prefix: str
    year: int
    number: int
    start: int
    end: int


def find_doc_numbers(text: str) -> list[DocNumber]:
    """文号 in already-normalised text (see ``normalize``)."""
    found = []
    for m in _DOCNO.finditer(text):
        year = m.group("y1") or m.group("y2") or m.group("y3")
        if not m.group("open") and not m.group("hao"):
            continue  # without brackets, only 号 tells a 文号 from a date ("2024年12月")
        prefix = re.sub(r"\s+", "", m.group("prefix") or "")
        found.append(DocNumber(prefix, int(year), int(m.group("num")), m.start(), m.end()))
    return found


def doc_number_key(doc_number: str | None) -> DocNumber | None:
    """The (issuer, year, number) of a document's own 文号, if it parses."""
    if not doc_number:
        return None
    found = find_doc_numbers(normalize(doc_number))
    return found[0] if found else None


def read_word_list(path: Path | Traversable) -> list[str]:
    """Lines of a word list, without blank lines and ``#`` comments."""
    text = path.read_text(encoding="utf-8")
    out = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.append(line)
    return out


class PosTags:
    """jieba's word → part-of-speech table (``dict.txt``'s third column, what
    ``jieba.posseg`` looks tags up in) as sorted word hashes and tag codes: 3 MB
    instead of a 40 MB dict. Python's 64-bit string hash makes a false match
    between two of 350,000 words practically impossible."""

    def __init__(self, dictionary: BinaryIO) -> None:
        names: dict[str, int] = {}
        hashes = array("q")  # raw values: 350,000 int objects would outlive the build as heap
        codes = array("B")
        with dictionary:
            for raw in dictionary:
                line = raw.strip().decode("utf-8")
                if line:
                    word, _freq, tag = line.split(" ")
                    hashes.append(hash(word))
                    codes.append(names.setdefault(tag, len(names)))
        keys = np.frombuffer(hashes, dtype=np.int64)
        order = np.argsort(keys, kind="stable")  # a word listed twice: the last wins, as in posseg
        self._keys = keys[order]
        self._codes = np.frombuffer(codes, dtype=np.uint8)[order]
        self._names = list(names)

    def get(self, word: str, default: str = "x") -> str:
        i = int(np.searchsorted(self._keys, hash(word), side="right")) - 1
        if i < 0 or self._keys[i] != hash(word):
            return default
        return self._names[self._codes[i]]


class Analyzer:
    """jieba segmentation tuned for policy text; one per process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.tokenizer = jieba.Tokenizer()
        self.tokenizer.initialize()
        self.tags = PosTags(self.tokenizer.get_dict_file())
        self._added: set[str] = set()
        self.stopwords = frozenset(normalize(w) for w in read_word_list(DATA / "stopwords.txt"))
        self.generic = frozenset(
            normalize(w) for line in read_word_list(DATA / "generic.txt") for w in line.split()
        )
        self.add_words(w.split()[0] for w in read_word_list(DATA / "userdict.txt"))

    def add_words(self, words: Iterable[str]) -> None:
        """Make each word one token (synonym terms, domain words). Idempotent."""
        with self._lock:
            for word in words:
                word = normalize(word).strip()
                if len(word) < 2 or word in self._added or " " in word:
                    continue
                self._added.add(word)
                self.tokenizer.add_word(word)
            self._cached_tokens.cache_clear()

    def is_word(self, word: str) -> bool:
        return bool(self.tokenizer.FREQ.get(word))

    def is_domain_word(self, word: str) -> bool:
        """A word of the policy dictionary, a synonym or a life-event term."""
        return word in self._added

    def frequency(self, word: str) -> int:
        """How common the word is in jieba's general dictionary (0: unknown)."""
        return int(self.tokenizer.FREQ.get(word) or 0)

    def tagged_query_tokens(self, text: str) -> list[tuple[str, str]]:
        """Precise cut with part-of-speech tags, without stopwords. The tags are
        those of jieba's dictionary (``PosTags``); a word it does not have (found
        by the HMM, or a domain word) is tagged ``x``. Looking the tag up costs
        microseconds; posseg's own Viterbi tagging would cost a millisecond."""
        return [(w, self.tags.get(w)) for w in self.query_tokens(text)]

    def _keep(self, token: str) -> bool:
        return bool(token.strip()) and token not in self.stopwords and not _PUNCT.match(token)

    def query_tokens(self, text: str) -> list[str]:
        """Precise cut of a normalised query, without stopwords and punctuation."""
        return [t for t in self.tokenizer.lcut(text) if self._keep(t)]

    def sub_words(self, token: str) -> list[str]:
        """Dictionary words of two or more characters inside a longer token."""
        n = len(token)
        if n < 3:
            return []
        freq = self.tokenizer.FREQ
        out = []
        for i in range(n - 1):
            for j in range(i + 2, min(n, i + 8) + 1):
                if (i, j) != (0, n) and freq.get(token[i:j]):
                    out.append(token[i:j])
        return out

    def split_compound(self, token: str) -> list[str]:
        """Greedy longest-match split into shorter dictionary words; characters
        no word covers are left single. A token of one word returns []."""
        n = len(token)
        if n < 3:
            return []
        freq = self.tokenizer.FREQ
        out, i = [], 0
        while i < n:
            for j in range(min(n, i + 8), i, -1):
                if j - i == 1 or ((i, j) != (0, n) and freq.get(token[i:j])):
                    out.append(token[i:j])
                    i = j
                    break
        return out

    def index_tokens(self, text: str) -> list[str]:
        """Index terms of a normalised text: precise tokens plus contained words."""
        out: list[str] = []
        for token in self.tokenizer.cut(text):
            if not self._keep(token):
                continue
            out.append(token)
            if len(token) > 2:
                out.extend(w for w in self._cached_tokens(token) if w not in self.stopwords)
        return out

    @lru_cache(maxsize=65536)  # noqa: B019 - one analyzer per process, bounded cache
    def _cached_tokens(self, token: str) -> tuple[str, ...]:
        return tuple(self.sub_words(token))


_analyzer: Analyzer | None = None
_analyzer_lock = threading.Lock()


def analyzer() -> Analyzer:
    """The process's analyzer (jieba loads its dictionary once, ~1 s)."""
    global _analyzer
    with _analyzer_lock:
        if _analyzer is None:
            jieba.setLogLevel(logging.WARNING)
            _analyzer = Analyzer()
        return _analyzer
