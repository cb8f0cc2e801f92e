"""The fixed set of resident attributes a policy's ``eligibility`` may name (CONTRACT.md),
with the one short question each is asked with and a parser of everyday answers.

Three sorts: ``range`` (a number compared with ``{min, max}``), ``choice`` (a set
of values; a resident's answer is a list, empty for 没有) and ``flag``
(true/false). Age is kept as the birth year-month (``YYYY-MM``): the minimum a
condition on age and a birthday reminder need, never an ID number.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from bot.search.text import normalize

Sort = Literal["range", "choice", "flag"]

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_CN_DIGITS |= {"六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}
_NUMBER = re.compile(r"\d+(?:\.\d+)?|[零〇一二两三四五六七八九十百千万]+")
NO = re.compile(r"^(没有|没|无|不是|否|不|没得|沒有|无此情况|都没有|都不是|不符合|no|n)$", re.I)
YES = re.compile(r"^(有|是|是的|对|对的|嗯|有的|符合|yes|y)$", re.I)


class AnswerError(ValueError):
    """An answer the parser cannot read; the message says how to answer."""


def cn_number(text: str) -> float | None:
    """The first number in ``text``, in digits or Chinese numerals (八十二, 两千五, 3.5)."""
    found = _NUMBER.search(text)
    if not found:
        return None
    word = found.group(0)
    if word[0].isdigit():
        return float(word)
    if all(ch in _CN_DIGITS for ch in word) and len(word) > 1:  # 一九四四
        return float("".join(str(_CN_DIGITS[ch]) for ch in word))
    total, section, digit, unit, zero = 0, 0, 0, 1, False
    for ch in word:
        if ch in _CN_DIGITS:
            digit, zero = _CN_DIGITS[ch], zero or ch in "零〇"
        elif ch == "万":
            total += (section + digit) * 10000
            section, digit, unit = 0, 0, 10000
        else:
            unit = _CN_UNITS[ch]
            section += (digit or 1) * unit
            digit, zero = 0, False
    if digit and unit >= 100 and not zero:  # 一千五 is 1500, 两万三 is 23000
        digit *= unit // 10
    return float(total + section + digit)


def _clean(text: str) -> str:
    return re.sub(r"[\s,!?~，。！？～]+|\.$", "", normalize(text)).strip()


@dataclass(frozen=True)
class Attribute:
    name: str
    sort: Sort
    question: str  # asked in chat, one at a time
    label: str  # the form's label and 我的信息's line
    choices: tuple[str, ...] = ()
    multiple: bool = False  # a choice attribute that may hold several values (or none)
    unit: str = ""
    parse: Callable[[str, dt.date], Any] | None = None  # answer → stored value

    def read(self, answer: str, today: dt.date, towns: tuple[str, ...] = ()) -> Any:
        """The stored value of an everyday answer, or ``AnswerError`` (``towns`` for ``town``)."""
        text = _clean(answer)
        if not text:
            raise AnswerError("请回答这个问题")
        if self.parse is not None:
            return self.parse(text, today)
        if self.sort == "flag":
            if YES.match(text):
                return True
            if NO.match(text):
                return False
            raise AnswerError("请回答“是”或“否”（也可以说“有”“没有”）")
        if self.sort == "range":
            number = cn_number(text)
            if number is None or number < 0:
                raise AnswerError(f"请回答一个数，如“{self.example}”")
            return int(number) if number == int(number) else number
        return self.read_choice(text, towns or self.choices)

    def read_choice(self, text: str, choices: tuple[str, ...]) -> list[str]:
        if NO.match(text):
            if self.multiple:
                return []
            raise AnswerError(f"请在{'、'.join(choices)}中选一个")
        found = [
            c for c in choices if c in text or _short(c) in text or _ALIASES.get(c, "@") in text
        ]
        if not found:
            hint = "，或回答“没有”" if self.multiple else ""
            raise AnswerError(f"请在{'、'.join(choices)}中选择{hint}")
        return found if self.multiple else found[:1]

    @property
    def example(self) -> str:
        return {
            "household_size": "3",
            "income_per_capita_month": "800",
            "farming_land_mu": "5",
        }.get(self.name, "1")

    def shown(self, value: Any) -> str:
        """A stored value as the resident reads it back (我的信息)."""
        if self.name == "age":
            return f"{value[:4]}年{int(value[5:7])}月出生"
        if self.sort == "flag":
            return "是" if value else "否"
        if self.sort == "choice":
            return "、".join(value) if value else "无"
        number = f"{value:g}" if isinstance(value, float) else str(value)
        return number + self.unit


def _short(name: str) -> str:
    """白石镇 → 白石 (a town named without 镇/乡/街道), else a string never found."""
    short = re.sub(r"(镇|乡|街道)$", "", name)
    return short if short != name and len(short) >= 2 else "\0"


_ALIASES = {"城镇": "非农", "农村": "农业", "低收入": "低边", "事实无人抚养儿童": "无人抚养"}


def _birth(text: str, today: dt.date) -> str:
    """八十二岁 / 82 / 1944年生 / 1944年5月 / 1944-05 → the birth year-month ``YYYY-MM``.

    An age is taken as reached this month (so the resident is that age now); a
    year without a month as December (never older than said)."""
    text = _NUMBER.sub(
        lambda m: f"{cn_number(m.group(0)) or 0:g}", text
    )  # 一九四四年五月 → 1944年5月
    ym = re.search(r"((?:19|20)\d\d)(?:[年/.-](\d{1,2})(?!\d))?", text)
    if ym:
        year, month = int(ym.group(1)), int(ym.group(2) or 12)
        if 1900 <= year <= today.year and 1 <= month <= 12:
            return f"{year:04d}-{month:02d}"
    number = cn_number(text)
    if number is not None and 0 <= number <= 120:
        return f"{today.year - int(number):04d}-{today.month:02d}"
    raise AnswerError("请回答年龄或出生年月，如“82岁”或“1944年5月”")


def _not_about(text: str, units: str, hint: str) -> None:
    """An answer naming another question's unit (三亩地 to the income question) is refused."""
    if re.search(units, text):
        raise AnswerError(hint)


def _household(text: str, today: dt.date) -> int:
    _not_about(text, "元|块|亩|岁", "请回答家里共几口人，如“3”或“三口人”")
    number = cn_number(text)
    if number is None or not 1 <= number <= 30:
        raise AnswerError("请回答家里共几口人，如“3”或“三口人”")
    return int(number)


def _income(text: str, today: dt.date) -> float:
    if NO.match(text) or text in ("没收入", "没有收入", "无收入"):
        return 0
    _not_about(text, "亩|岁|口|个人", "请回答家庭每人每月大约多少元，如“800”")
    number = cn_number(text)
    if number is None:
        raise AnswerError("请回答家庭每人每月大约多少元，如“800”；没有收入请回答“没有”")
    return number


def _land(text: str, today: dt.date) -> float:
    if NO.match(text) or "不种" in text:
        return 0
    _not_about(text, "元|块|岁|口", "请回答种了几亩地，如“5亩”")
    number = cn_number(text)
    if number is None:
        raise AnswerError("请回答种了几亩地，如“5亩”；不种地请回答“没有”")
    return number + 0.5 if re.search(r"亩半|点五", text) and number == int(number) else number


def _disability(text: str, today: dt.date) -> list[str]:
    if NO.match(text):
        return []
    grade = re.search(r"([一二三四1234])级", text) or re.fullmatch(r"([一二三四1234])", text)
    if grade:
        return ["一二三四"["1234".index(g)] + "级" if (g := grade.group(1)).isdigit() else g + "级"]
    raise AnswerError("请回答残疾人证的等级，如“一级”“二级”；没有请回答“没有”")


ATTRIBUTES: dict[str, Attribute] = {
    a.name: a
    for a in (
        Attribute(
            "age",
            "range",
            "您今年多大年纪？（如：82岁，或 1944年5月）",
            "年龄",
            unit="周岁",
            parse=_birth,
        ),
        Attribute("hukou", "choice", "您的户口是城镇户口还是农村户口？", "户籍", ("城镇", "农村")),
        Attribute("town", "choice", "您的户籍在哪个镇（乡、街道）？", "所在镇（乡、街道）"),
        Attribute(
            "household_size",
            "range",
            "您家户口本上共几口人？",
            "家庭人口",
            unit="人",
            parse=_household,
        ),
        Attribute(
            "income_per_capita_month",
            "range",
            "您家每人每月收入大约多少元？",
            "家庭月人均收入",
            unit="元",
            parse=_income,
        ),
        Attribute(
            "status",
            "choice",
            "您家是否属于以下情况：低保、特困、低收入、脱贫户、监测户、孤儿、事实无人抚养儿童？（都不是请回答“没有”）",
            "救助身份",
            ("低保", "特困", "低收入", "脱贫户", "监测户", "孤儿", "事实无人抚养儿童"),
            multiple=True,
        ),
        Attribute(
            "disability",
            "choice",
            "您或家人持有残疾人证吗？是几级？（没有请回答“没有”）",
            "残疾等级",
            ("一级", "二级", "三级", "四级"),
            multiple=True,
            parse=_disability,
        ),
        Attribute("unemployed", "flag", "您是否已办理失业登记？", "失业登记"),
        Attribute(
            "farming_land_mu",
            "range",
            "您家承包种植的耕地有几亩？（不种地请回答“没有”）",
            "耕地面积",
            unit="亩",
            parse=_land,
        ),
        Attribute(
            "child_stage",
            "choice",
            "家里有孩子在上学吗？在哪个阶段：学前、小学、初中、高中、大学？（没有请回答“没有”）",
            "子女就学",
            ("学前", "小学", "初中", "高中", "大学"),
            multiple=True,
        ),
        Attribute("newborn", "flag", "家里近一年内有新生儿吗？", "新生儿"),
        Attribute("pregnant", "flag", "家里现在有孕妇吗？", "孕妇"),
        Attribute("veteran", "flag", "您是退役军人吗？", "退役军人"),
        Attribute("lives_alone", "flag", "您是独居吗？", "独居"),
        Attribute(
            "house",
            "choice",
            "您家住房是否属于：危房、受灾、被征收、无房？（都不是请回答“没有”）",
            "住房情况",
            ("危房", "受灾", "被征收", "无房"),
            multiple=True,
        ),
    )
}


def age_on(birth: str, day: dt.date) -> int:
    """Whole years on ``day`` of someone born in ``birth`` (``YYYY-MM``), counted from the month."""
    year, month = int(birth[:4]), int(birth[5:7])
    return (day.year * 12 + day.month - (year * 12 + month)) // 12
