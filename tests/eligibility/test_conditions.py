"""Eligibility rules as staff write them: parsed, refused with the line, evaluated."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from bot.catalog.fields import FieldError
from bot.catalog.loader import load_content
from bot.cli import main
from bot.eligibility.attributes import ATTRIBUTES, AnswerError, cn_number
from bot.eligibility.conditions import convert, holds, reasons, rule_of
from bot.eligibility.matching import Residents
from tests.conftest import CONTENT

DAY = dt.date(2026, 12, 1)


def rule(**kw: Any) -> dict[str, Any]:
    return rule_of(convert({**kw, "gives": "每月100元"}))


@pytest.mark.parametrize(
    ("condition", "yes", "no"),
    [
        ({"age": {"min": 80}}, {"age": "1946-12"}, {"age": "1947-01"}),
        ({"age": {"min": 60, "max": 69}}, {"age": "1957-06"}, {"age": "1956-11"}),
        ({"hukou": ["农村"]}, {"hukou": ["农村"]}, {"hukou": ["城镇"]}),
        ({"town": ["白石镇"]}, {"town": ["白石镇"]}, {"town": ["城关镇"]}),
        ({"household_size": {"min": 3}}, {"household_size": 3}, {"household_size": 2}),
        (
            {"income_per_capita_month": {"max": 860}},
            {"income_per_capita_month": 860},
            {"income_per_capita_month": 861},
        ),
        ({"status": ["低保", "特困"]}, {"status": ["特困", "脱贫户"]}, {"status": []}),
        ({"disability": ["一级", "二级"]}, {"disability": ["二级"]}, {"disability": ["三级"]}),
        ({"unemployed": True}, {"unemployed": True}, {"unemployed": False}),
        ({"farming_land_mu": {"min": 0.1}}, {"farming_land_mu": 4.5}, {"farming_land_mu": 0}),
        (
            {"child_stage": ["高中", "大学"]},
            {"child_stage": ["小学", "大学"]},
            {"child_stage": ["初中"]},
        ),
        ({"newborn": True}, {"newborn": True}, {"newborn": False}),
        ({"pregnant": True}, {"pregnant": True}, {"pregnant": False}),
        ({"veteran": True}, {"veteran": True}, {"veteran": False}),
        ({"lives_alone": False}, {"lives_alone": False}, {"lives_alone": True}),
        ({"house": ["危房", "受灾"]}, {"house": ["受灾"]}, {"house": ["无房"]}),
    ],
)
def test_each_condition_type_holds_fails_or_waits_for_the_answer(
    condition: dict[str, Any], yes: dict[str, Any], no: dict[str, Any]
) -> None:
    r = rule(all=[condition])
    assert holds(r, yes, DAY) is True
    assert holds(r, no, DAY) is False
    assert holds(r, {}, DAY) is None  # a missing answer decides nothing
    many = Residents.of([("yes", yes), ("no", no), ("unknown", {})])
    assert list(many.matching(r, DAY)) == [True, False, False]


def test_all_and_any_nest_and_a_missing_answer_only_matters_when_it_could_decide() -> None:
    r = rule(
        any=[
            {"all": [{"disability": ["一级", "二级"]}, {"status": ["低保"]}]},
            {"disability": ["一级"]},
        ]
    )
    assert holds(r, {"disability": ["一级"]}, DAY) is True  # status not needed
    assert holds(r, {"disability": ["二级"]}, DAY) is None  # needs status
    assert holds(r, {"disability": ["二级"], "status": []}, DAY) is False
    assert holds(r, {"disability": []}, DAY) is False
    assert reasons(r, {"disability": ["一级"]}, DAY) == ["持有一级残疾人证"]
    elderly = rule(all=[{"age": {"min": 80}}, {"hukou": ["城镇", "农村"]}])
    why = reasons(elderly, {"age": "1944-05", "hukou": ["农村"]}, DAY)
    assert "，".join(why) == "您年满80周岁，户籍在本县"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"all": [{"agee": {"min": 80}}], "gives": "x"}, "未知属性 'agee'"),
        ({"all": [{"hukou": ["外地"]}], "gives": "x"}, "'外地' 不是可选值"),
        ({"all": [{"age": {"min": "八十"}}], "gives": "x"}, "age.min 应为非负数"),
        ({"all": [{"age": {"min": 90, "max": 80}}], "gives": "x"}, "min 大于 max"),
        ({"all": [{"veteran": "是"}], "gives": "x"}, "veteran 应为 true 或 false"),
        (
            {"all": [{"age": {"min": 80}, "hukou": ["农村"]}], "gives": "x"},
            "每一条应为一个属性条件",
        ),
        ({"all": {"age": {"min": 80}}, "gives": "x"}, "all 应为非空列表"),
        ({"all": [{"age": {"min": 80}}], "any": [{"veteran": True}], "gives": "x"}, "有且只有一个"),
        ({"all": [{"age": {"min": 80}}]}, "缺少 gives"),
        ({"all": [{"age": {"min": 80}}], "gives": "x", "apply_by": "2026-02-30"}, "apply_by"),
    ],
)
def test_bad_rules_are_refused_with_a_reason(value: dict[str, Any], message: str) -> None:
    with pytest.raises(FieldError, match=re.escape(message)):
        convert(value)


def test_content_check_points_at_the_line_of_the_bad_condition(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "content"
    shutil.copytree(CONTENT, root)
    path = root / "policies/qmf-2024-20-elderly-allowance.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("    - age: {min: 80}", "    - agee: {min: 80}"), encoding="utf-8")
    line = text[: text.index("    - age: {min: 80}")].count("\n") + 1
    rental = root / "policies/qjf-2024-11-public-rental-housing.md"
    body = rental.read_text(encoding="utf-8")
    rental.write_text(body.replace("城关镇, 青河街道", "城关镇, 白云镇"), encoding="utf-8")
    town_line = body[: body.index("    - town:")].count("\n") + 1
    nested = root / "policies/qmf-2025-6-disability-subsidies.md"
    nbody = nested.read_text(encoding="utf-8")
    nested.write_text(
        nbody.replace("status: [低保, 特困, 低收入]", "status: [低保, 富裕]"), encoding="utf-8"
    )
    nested_line = nbody[: nbody.index("        - status:")].count("\n") + 1

    assert main(["content", "check", str(root)]) == 1
    out = capsys.readouterr().out
    assert f"policies/qmf-2024-20-elderly-allowance.md:{line}: eligibility: 未知属性 'agee'" in out
    assert (
        f"qjf-2024-11-public-rental-housing.md:{town_line}: eligibility: regions.yaml 中没有 '白云镇'"
        in out
    )
    assert (
        f"qmf-2025-6-disability-subsidies.md:{nested_line}: eligibility: status: '富裕' 不是可选值"
        in out
    )


def test_the_sample_policies_carry_realistic_rules() -> None:
    content = load_content(CONTENT)
    ruled = {p.id: p.eligibility for p in content.policies if p.eligibility}
    for pid in (
        "qmf-2024-20-elderly-allowance",
        "qmf-2025-6-disability-subsidies",
        "qnf-2025-3-farmland-protection-subsidy",
        "qmf-2022-27-temporary-relief",
        "qjf-2024-11-public-rental-housing",
    ):
        assert ruled[pid]["gives"] and ruled[pid]["apply"] and ruled[pid]["where"]


@pytest.mark.parametrize(
    ("attribute", "said", "kept"),
    [
        ("age", "八十二岁", "1944-12"),
        ("age", "82", "1944-12"),
        ("age", "1944年生", "1944-12"),
        ("age", "1944年5月", "1944-05"),
        ("age", "一九四四年五月", "1944-05"),
        ("hukou", "农村户口", ["农村"]),
        ("hukou", "城镇", ["城镇"]),
        ("household_size", "三口人", 3),
        ("household_size", "5个人", 5),
        ("income_per_capita_month", "八百元左右", 800),
        ("income_per_capita_month", "没有收入", 0),
        ("status", "没有", []),
        ("status", "我家是低保户", ["低保"]),
        ("disability", "一级", ["一级"]),
        ("disability", "2级", ["二级"]),
        ("disability", "没有", []),
        ("veteran", "是", True),
        ("veteran", "不是", False),
        ("newborn", "有", True),
        ("lives_alone", "没有", False),
        ("farming_land_mu", "五亩半", 5.5),
        ("farming_land_mu", "3.5亩", 3.5),
        ("farming_land_mu", "不种地", 0),
        ("child_stage", "一个上小学一个上初中", ["小学", "初中"]),
        ("house", "危房", ["危房"]),
    ],
)
def test_everyday_answers_are_understood(attribute: str, said: str, kept: Any) -> None:
    assert ATTRIBUTES[attribute].read(said, DAY) == kept


def test_an_unreadable_answer_says_how_to_answer() -> None:
    with pytest.raises(AnswerError, match="82岁"):
        ATTRIBUTES["age"].read("很老了", DAY)
    with pytest.raises(AnswerError, match="城镇、农村"):
        ATTRIBUTES["hukou"].read("外地", DAY)
    assert cn_number("两千五百") == 2500 == cn_number("两千五")
    assert cn_number("一千零五") == 1005


def test_an_answer_to_another_question_is_not_taken_for_this_one() -> None:
    with pytest.raises(AnswerError, match="每人每月"):
        ATTRIBUTES["income_per_capita_month"].read("我家种了三亩地", DAY)
    with pytest.raises(AnswerError, match="几亩"):
        ATTRIBUTES["farming_land_mu"].read("八百元", DAY)
    with pytest.raises(AnswerError, match="几口人"):
        ATTRIBUTES["household_size"].read("82岁", DAY)
