"""The small tables search keeps instead of whole libraries (issue 13 item 2)
answer exactly as the libraries did: part-of-speech tags as ``jieba.posseg``'s
table, characters' sounds as pypinyin reads them, and spelling correction works
in a process that never imports either."""

from __future__ import annotations

import os
import subprocess
import sys

import jieba.posseg
from pypinyin import Style, pinyin

from bot.search.correct import _fuzzy, sound
from bot.search.text import analyzer
from tests.conftest import ROOT

_CHECK = """
import sys
from bot.search.correct import Corrector
from bot.search.text import analyzer
vocab = {"低保": 9, "申请": 20, "高龄": 4}
print(Corrector(vocab, vocab.__getitem__).correct("底保怎么申清")[0])
print(analyzer().tagged_query_tokens("低保怎么申请"))
print(sorted(m for m in ("pypinyin", "jieba.posseg") if m in sys.modules))
"""


def test_correction_and_tags_work_without_importing_pypinyin_or_posseg() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", _CHECK], env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == "低保怎么申请"
    assert out[1] == "[('低保', 'v'), ('申请', 'v')]"  # jieba's dictionary tags both as verbs
    assert out[2] == "[]"


def test_every_character_sounds_as_pypinyin_reads_it() -> None:
    for point in range(0x4E00, 0xA000):
        char = chr(point)
        reading = pinyin(char, style=Style.NORMAL, errors="ignore")
        expected = _fuzzy(reading[0][0]) if reading and reading[0] else char
        assert sound(char) == expected, char


def test_part_of_speech_tags_are_jieba_posseg_s() -> None:
    tags = analyzer().tags
    for word, tag in jieba.posseg.dt.word_tag_tab.items():
        assert tags.get(word) == tag, word
    assert tags.get("拾掇院子") == "x"  # not in the dictionary: as posseg says
    query = "我家老人九十岁了能领高龄津贴吗"
    expected = [
        (w, jieba.posseg.dt.word_tag_tab.get(w, "x")) for w in analyzer().query_tokens(query)
    ]
    assert analyzer().tagged_query_tokens(query) == expected
