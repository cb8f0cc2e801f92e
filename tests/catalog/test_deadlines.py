"""Proactive-disclosure deadlines: 20 working days on the official calendar, or an estimate."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from bot.catalog import deadlines
from bot.catalog.deadlines import WorkCalendar, disclosure_deadline
from bot.catalog.loader import Holidays, load_content
from tests.conftest import CONTENT


def test_official_calendar_skips_national_day_and_counts_swapped_workdays() -> None:
    # 2024: 1–7 October off; Sunday 29 September and Saturday 12 October are workdays.
    due = disclosure_deadline(WorkCalendar(), dt.date(2024, 9, 20))
    assert due == deadlines.Deadline(dt.date(2024, 10, 23), estimated=False)


def test_uncovered_year_falls_back_to_holidays_yaml_and_warns_once(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deadlines, "_warned_years", set())
    start = dt.date(2099, 1, 2)  # a Friday; the library will not know 2099 for a long time
    # A holiday week in holidays.yaml pushes the deadline back; a swapped Saturday pulls it in.
    week = frozenset(dt.date(2099, 1, d) for d in range(5, 10))
    with_holidays = WorkCalendar(Holidays(holidays=week, workdays=frozenset({dt.date(2099, 1, 3)})))
    with caplog.at_level(logging.WARNING, logger="bot.catalog"):
        plain = disclosure_deadline(WorkCalendar(), start)
        due = disclosure_deadline(with_holidays, start)
        disclosure_deadline(with_holidays, dt.date(2099, 3, 1))
    assert plain == deadlines.Deadline(dt.date(2099, 1, 30), estimated=True)  # four Mon–Fri weeks
    assert due == deadlines.Deadline(dt.date(2099, 2, 5), estimated=True)
    warnings = [
        r for r in caplog.records if r.name == "bot.catalog" and r.levelno == logging.WARNING
    ]
    assert len(warnings) == 1 and warnings[0].year == 2099  # type: ignore[attr-defined]


def test_sample_holidays_yaml_is_read() -> None:
    holidays = load_content(CONTENT).holidays
    assert dt.date(2027, 10, 1) in holidays.holidays
    assert dt.date(2027, 10, 9) in holidays.workdays
