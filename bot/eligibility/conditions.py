"""A policy's ``eligibility``: parsed and validated once (files, admin API, console),
stored as plain JSON, evaluated for one resident with three outcomes.

The stored form is the front matter's own shape, normalised::

    {"all": [{"age": {"min": 80}}, {"hukou": ["城镇", "农村"]}],
     "gives": "…", "apply": "…", "where": "…", "apply_by": "2026-12-31"}

A rule is a group (``all`` / ``any``, nested as needed) or a condition naming
one attribute. For one resident a rule is True, False or None (an answer it
needs is missing): ``all`` is False when one part is, ``any`` True when one is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

from bot.catalog.fields import FieldError, date, text
from bot.eligibility.attributes import ATTRIBUTES, age_on

GROUPS = ("all", "any")
DETAILS = {"gives": 500, "apply": 500, "where": 200}
MAX_DEPTH = 4

Rule = dict[str, Any]


class ConditionError(FieldError):
    """A problem at ``path`` inside ``eligibility`` (keys and 0-based list positions)."""

    def __init__(self, message: str, path: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.path = path


def convert(value: Any) -> dict[str, Any]:
    """The front-matter converter of ``eligibility``: the normalised stored form."""
    if not isinstance(value, dict):
        raise ConditionError("应为映射，含 all 或 any 及 gives、apply、where、apply_by")
    unknown = [k for k in value if k not in (*GROUPS, *DETAILS, "apply_by")]
    if unknown:
        raise ConditionError(_unknown(str(unknown[0])), (str(unknown[0]),))
    groups = [g for g in GROUPS if g in value]
    if len(groups) != 1:
        raise ConditionError("应有且只有一个 all（全部满足）或 any（满足其一）")
    out: dict[str, Any] = _rule({groups[0]: value[groups[0]]}, (), 0)
    for key, limit in DETAILS.items():
        if value.get(key) not in (None, ""):
            try:
                out[key] = text(limit)(value[key])
            except FieldError as exc:
                raise ConditionError(f"{key}: {exc}", (key,)) from None
    if not out.get("gives"):
        raise ConditionError("缺少 gives（可享受什么，如“每人每月100元”）")
    if value.get("apply_by") not in (None, ""):
        try:
            out["apply_by"] = date(value["apply_by"]).isoformat()
        except FieldError as exc:
            raise ConditionError(f"apply_by: {exc}", ("apply_by",)) from None
    return out


def _unknown(name: str) -> str:
    known = "、".join(ATTRIBUTES)
    return f"未知属性 '{name}'（可用：{known}；组合用 all、any）"


def _rule(item: Any, path: tuple[str | int, ...], depth: int) -> Rule:
    if not isinstance(item, dict) or len(item) != 1:
        raise ConditionError("每一条应为一个属性条件（如 age: {min: 80}）或 all/any 组合", path)
    ((key, value),) = item.items()
    key = str(key)
    here = (*path, key)
    if key in GROUPS:
        if depth >= MAX_DEPTH:
            raise ConditionError(f"all/any 嵌套过深（最多 {MAX_DEPTH} 层）", here)
        if not isinstance(value, list) or not value:
            raise ConditionError(f"{key} 应为非空列表，每项以“- ”开头", here)
        return {key: [_rule(part, (*here, i), depth + 1) for i, part in enumerate(value)]}
    attribute = ATTRIBUTES.get(key)
    if attribute is None:
        raise ConditionError(_unknown(key), here)
    if attribute.sort == "range":
        return {key: _range(value, key, here)}
    if attribute.sort == "flag":
        if not isinstance(value, bool):
            raise ConditionError(f"{key} 应为 true 或 false", here)
        return {key: value}
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values:
        raise ConditionError(
            f"{key} 应为列表，如 [{'、'.join(attribute.choices[:2]) or '白石镇'}]", here
        )
    out = []
    for v in values:
        v = str(v).strip()
        if attribute.choices and v not in attribute.choices:
            raise ConditionError(f"{key}: '{v}' 不是可选值（{'、'.join(attribute.choices)}）", here)
        out.append(v)
    return {key: list(dict.fromkeys(out))}


def _range(value: Any, key: str, path: tuple[str | int, ...]) -> dict[str, float]:
    if not isinstance(value, dict) or not value or set(value) - {"min", "max"}:
        raise ConditionError(f"{key} 应为 {{min: 数}}、{{max: 数}} 或二者", path)
    out: dict[str, float] = {}
    for bound, number in value.items():
        if isinstance(number, bool) or not isinstance(number, (int, float)) or number < 0:
            raise ConditionError(f"{key}.{bound} 应为非负数", path)
        out[bound] = int(number) if float(number).is_integer() else float(number)
    if "min" in out and "max" in out and out["min"] > out["max"]:
        raise ConditionError(f"{key}: min 大于 max", path)
    return out


def rule_of(eligibility: Mapping[str, Any]) -> Rule:
    """The conditions alone (the top group), without gives/apply/where/apply_by."""
    return {g: eligibility[g] for g in GROUPS if g in eligibility}


def attributes_in(rule: Rule) -> Iterator[str]:
    """Every attribute a rule names, in order, repeated as often as named."""
    ((key, value),) = rule.items()
    if key in GROUPS:
        for part in value:
            yield from attributes_in(part)
    else:
        yield key


def holds(rule: Rule, answers: Mapping[str, Any], day: dt.date) -> bool | None:
    """True, False, or None when an answer the outcome depends on is missing."""
    ((key, value),) = rule.items()
    if key in GROUPS:
        outcomes = [holds(part, answers, day) for part in value]
        decisive = key == "any"  # any: one True decides; all: one False decides
        if decisive in outcomes:
            return decisive
        return None if None in outcomes else not decisive
    if key not in answers:
        return None
    return _condition(key, value, answers[key], day)


def _condition(key: str, wanted: Any, answer: Any, day: dt.date) -> bool:
    attribute = ATTRIBUTES[key]
    if attribute.sort == "range":
        number = age_on(answer, day) if key == "age" else float(answer)
        return wanted.get("min", number) <= number <= wanted.get("max", number)
    if attribute.sort == "flag":
        return bool(answer) == wanted
    return bool(set(answer) & set(wanted))


def reasons(rule: Rule, answers: Mapping[str, Any], day: dt.date) -> list[str]:
    """Why a rule holds, as the resident reads it: the conditions that made it true."""
    ((key, value),) = rule.items()
    if key in GROUPS:
        parts = [p for p in value if holds(p, answers, day)]
        if key == "any":
            parts = parts[:1]
        return [r for p in parts for r in reasons(p, answers, day)]
    return [phrase(key, value)]


_FLAG_PHRASES = {
    "unemployed": ("已办理失业登记", "未办理失业登记"),
    "newborn": ("家里有新生儿", "家里没有新生儿"),
    "pregnant": ("家里有孕妇", "家里没有孕妇"),
    "veteran": ("您是退役军人", "您不是退役军人"),
    "lives_alone": ("您独自居住", "您不是独自居住"),
}


def phrase(key: str, wanted: Any) -> str:
    """One condition in the words a resident reads (“您年满80周岁”)."""
    attribute = ATTRIBUTES[key]
    if key == "age":
        low, high = wanted.get("min"), wanted.get("max")
        if low is not None and high is not None:
            return f"您的年龄在{low}至{high}周岁之间"
        return f"您年满{low}周岁" if low is not None else f"您未满{high + 1}周岁"
    if key == "hukou":
        return "户籍在本县" if len(wanted) > 1 else f"您是{wanted[0]}户籍"
    if key == "town":
        return f"户籍在{'、'.join(wanted)}"
    if key == "farming_land_mu" and wanted.get("min", 1) < 1 and "max" not in wanted:
        return "您家种有承包耕地"
    if attribute.sort == "range":
        low, high = wanted.get("min"), wanted.get("max")
        noun, unit = attribute.label, attribute.unit
        if low is not None and high is not None:
            return f"{noun}在{low}至{high}{unit}之间"
        return f"{noun}不少于{low}{unit}" if low is not None else f"{noun}不超过{high}{unit}"
    if attribute.sort == "flag":
        return (
            f"{'是' if wanted else '不是'}{attribute.label}"
            if key != "unemployed"
            else ("已办理失业登记" if wanted else "未办理失业登记")
        )
    if key == "disability":
        return f"持有{'或'.join(wanted)}残疾人证"
    if key == "status":
        return f"属于{'或'.join(wanted)}家庭"
    if key == "child_stage":
        return f"有子女在读{'或'.join(wanted)}"
    return f"住房属于{'或'.join(wanted)}"


def town_paths(eligibility: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Each town a rule names, with its dotted path (for the line of a problem)."""

    def walk(rule: Rule, path: str) -> Iterator[tuple[str, str]]:
        ((key, value),) = rule.items()
        if key in GROUPS:
            for i, part in enumerate(value):
                yield from walk(part, f"{path}.{key}.{i}")
        elif key == "town":
            for town in value:
                yield f"{path}.town", town

    yield from walk(rule_of(eligibility), "eligibility")
