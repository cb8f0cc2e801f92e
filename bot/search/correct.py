"""Slips of the keyboard and the voice: 底保 → 低保, 危方改造 → 危房改造, 高林 → 高龄.

Residents type with pinyin input methods and speak to voice recognition, so a
wrong character almost always sounds like the right one. A word of the query
that no document contains is compared by its *fuzzy* pinyin (tones dropped,
and the pairs southern speakers and input methods mix up folded together: zh/z,
ch/c, sh/s, ing/in, eng/en, ang/an, l/n) with the index's own vocabulary; a
match with the same sound replaces it. The search tries the correction only
when the query as typed finds nothing, and says what it corrected.

A character's reading comes from pypinyin's single-character table, read as a
file: importing pypinyin loads its phrase dictionary too (about 50 MB per
process), and the corrector needs only each character's most common reading.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

_CJK = re.compile(r"^[\u4e00-\u9fff]{2,4}$")
_FOLDS = (("zh", "z"), ("ch", "c"), ("sh", "s"))
_FINALS = (("ing", "in"), ("eng", "en"), ("ang", "an"))


def _fuzzy(syllable: str) -> str:
    """A toneless syllable with the sounds people mix up folded together."""
    text = syllable
    for a, b in _FOLDS:
        if text.startswith(a):
            text = b + text[len(a) :]
            break
    if text.startswith("n"):
        text = "l" + text[1:]
    for a, b in _FINALS:
        if text.endswith(a):
            text = text[: -len(a)] + b
            break
    return text


def _toneless(reading: str) -> str:
    """lǜ → lv, bǎo → bao: pypinyin's ``Style.NORMAL`` spelling."""
    text = unicodedata.normalize("NFD", reading).replace("u\u0308", "v")
    return "".join(c for c in text if not unicodedata.combining(c))


def _readings() -> dict[str, str]:
    """pypinyin's code point → "reading,reading…" table, without importing the package."""
    spec = importlib.util.find_spec("pypinyin")
    if spec is not None and spec.origin:
        path = Path(spec.origin).parent / "pinyin_dict.json"
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    from pypinyin.pinyin_dict import pinyin_dict  # another layout: the package itself

    return {str(point): readings for point, readings in pinyin_dict.items()}


@lru_cache(maxsize=1)
def _sounds() -> dict[str, str]:
    """Each common CJK character's fuzzy syllable (its most common reading)."""
    out = {}
    for point, readings in _readings().items():
        char = chr(int(point))
        if "\u4e00" <= char <= "\u9fff":  # the only characters ``_CJK`` lets through
            out[char] = sys.intern(_fuzzy(_toneless(readings.split(",")[0])))
    return out


def _sound(char: str) -> str:
    """One character's fuzzy syllable; a character without one stands for itself."""
    return _sounds().get(char) or char


def sound(word: str) -> str:
    return " ".join(_sound(c) for c in word)


@dataclass(frozen=True)
class Correction:
    wrong: str
    right: str


class Corrector:
    """Maps the sound of each known word (2–4 characters) to the word itself."""

    def __init__(
        self,
        vocabulary: Iterable[str],
        weight: Callable[[str], int],
        is_common: Callable[[str], bool] = lambda _w: False,
    ) -> None:
        self.weight = weight  # how established a word is (document frequency)
        self.is_common = is_common  # an everyday word the resident meant (地利, 怎么)
        self._by_sound: dict[str, list[str]] = {}
        self._known: set[str] = set()
        for word in vocabulary:
            if _CJK.match(word) and word not in self._known:
                self._known.add(word)
                self._by_sound.setdefault(sound(word), []).append(word)

    def known(self, word: str) -> bool:
        return word in self._known

    def suggest(self, word: str) -> str | None:
        """The best-established known word that sounds like ``word``, if any."""
        if not _CJK.match(word) or word in self._known or self.is_common(word):
            return None
        same = [w for w in self._by_sound.get(sound(word), ()) if w != word]
        if not same:
            return None
        return max(same, key=lambda w: (self.weight(w), w))

    def correct(self, text: str) -> tuple[str, list[Correction]]:
        """``text`` with every unknown stretch that sounds like a known word replaced.

        Stretches are tried longest first at each position, so 危方改造 becomes
        危房改造 as a whole when the vocabulary has it, and 危房 + 改造 otherwise."""
        out: list[str] = []
        fixes: list[Correction] = []
        i = 0
        while i < len(text):
            for n in (4, 3, 2):
                piece = text[i : i + n]
                if len(piece) < n:
                    continue
                if self.known(piece):
                    out.append(piece)
                    i += n
                    break
                right = self.suggest(piece)
                if right is not None:
                    out.append(right)
                    fixes.append(Correction(piece, right))
                    i += n
                    break
            else:
                out.append(text[i])
                i += 1
        return "".join(out), fixes
