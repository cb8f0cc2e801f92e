"""Section 三 of the 政府信息公开工作年度报告 (收到和处理政府信息公开申请情况), from the
requests themselves, plus the two figures the report does not ask for but residents
do: the median working days to answer and the share answered on time.

A request belongs to the year it was received in; one still open on 1 January is
carried over (上年结转) into the year and, if still open on 31 December, carried
forward (结转下年度继续办理). The books balance: new + carried over = outcomes total
+ carried forward, per applicant column.
"""

from __future__ import annotations

import datetime as dt
import statistics
from typing import Any, NamedTuple

from tortoise.expressions import Q

from bot.catalog.deadlines import WorkCalendar
from bot.participation.models import DisclosureRequest
from bot.participation.outcomes import ORG_KINDS, OUTCOMES

COLUMNS = ("自然人", *ORG_KINDS)  # the report's applicant columns


class _Row(NamedTuple):
    """The columns the report reads (not whole rows: a year can hold many thousands)."""

    applicant_type: str
    org_kind: str | None
    received_on: dt.date
    due_on: dt.date
    replied_on: dt.date | None
    outcome: str | None
    outcome_reason: str | None


def _column(req: _Row) -> str:
    return "自然人" if req.applicant_type == "公民" else (req.org_kind or "其他")


def _zero() -> dict[str, int]:
    return {c: 0 for c in COLUMNS} | {"总计": 0}


def _add(row: dict[str, int], req: _Row) -> None:
    row[_column(req)] += 1
    row["总计"] += 1


async def annual_report(year: int, calendar: WorkCalendar) -> dict[str, Any]:
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    found = await DisclosureRequest.filter(
        Q(received_on__gte=start, received_on__lte=end)
        | Q(Q(received_on__lt=start), Q(Q(replied_on__isnull=True) | Q(replied_on__gte=start)))
    ).values_list(*_Row._fields)
    rows = [_Row(*values) for values in found]
    new, carried_over, forward = _zero(), _zero(), _zero()
    outcome_rows: dict[str, Any] = {}
    for outcome, reasons in OUTCOMES.items():
        outcome_rows[outcome] = {r: _zero() for r in reasons} if reasons else _zero()
    outcome_total = _zero()
    days_taken: list[int] = []
    on_time = answered = 0
    for req in rows:
        _add(new if req.received_on >= start else carried_over, req)
        if req.replied_on is not None and req.replied_on <= end and req.outcome:
            cell = outcome_rows[req.outcome]
            _add(cell[req.outcome_reason] if OUTCOMES[req.outcome] else cell, req)
            _add(outcome_total, req)
            answered += 1
            on_time += req.replied_on <= req.due_on
            days_taken.append(calendar.working_days_between(req.received_on, req.replied_on))
        else:
            _add(forward, req)

    def total(cell: dict[str, Any]) -> int:
        return cell["总计"] if "总计" in cell else sum(v["总计"] for v in cell.values())

    outcomes: dict[str, Any] = {}
    for name, cell in outcome_rows.items():
        if OUTCOMES[name]:
            outcomes[name] = {r: v["总计"] for r, v in cell.items()} | {"total": total(cell)}
        else:
            outcomes[name] = total(cell)
    outcomes["total"] = outcome_total["总计"]
    return {
        "year": year,
        "received": {"公民": new["自然人"], "法人或其他组织": new["总计"] - new["自然人"],
                     "total": new["总计"]},
        "carried_over": carried_over["总计"],
        "outcomes": outcomes,
        "carried_forward": forward["总计"],
        "median_working_days": statistics.median(days_taken) if days_taken else None,
        "on_time_share": round(on_time / answered, 4) if answered else None,
        "answered": answered,
        "columns": [*COLUMNS, "总计"],
        "table": _table(new, carried_over, outcome_rows, outcome_total, forward),
    }  # fmt: skip


def _table(
    new: dict[str, int], over: dict[str, int], outcomes: dict[str, Any],
    total: dict[str, int], forward: dict[str, int],
) -> list[dict[str, Any]]:  # fmt: skip
    """The report's table, row by row, each row with its applicant columns."""
    table = [
        {"row": "一、本年新收政府信息公开申请数量", **new},
        {"row": "二、上年结转政府信息公开申请数量", **over},
    ]
    numerals = "一二三四五六"
    for i, (name, cell) in enumerate(outcomes.items()):
        label = f"三、本年度办理结果（{numerals[i]}）{name}"
        if OUTCOMES[name]:
            table.append(
                {"row": label, **{c: sum(v[c] for v in cell.values()) for c in (*COLUMNS, "总计")}}
            )
            for j, (reason, counts) in enumerate(cell.items(), start=1):
                table.append({"row": f"    {j}.{reason}", **counts})
        else:
            table.append({"row": label, **cell})
    table.append({"row": "三、本年度办理结果（七）总计", **total})
    table.append({"row": "四、结转下年度继续办理", **forward})
    return table  # fmt: skip
