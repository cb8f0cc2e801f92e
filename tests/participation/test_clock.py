"""The legal clocks on the official calendar: Spring Festival, National Day (with their
swapped working Saturdays and Sundays) and a year chinese_calendar does not cover."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.catalog.deadlines import Deadline, WorkCalendar
from bot.catalog.loader import load_content
from bot.participation.clock import (
    Pause,
    RequestClock,
    answer_due,
    period_shortfall,
    supplement_deadline,
)
from tests.conftest import CONTENT

D = dt.date
OFFICIAL = WorkCalendar()


def test_spring_festival_2026_counts_the_swapped_saturdays() -> None:
    # Fri 6 Feb received; Sat 14 Feb and Sat 28 Feb are working days, 15–23 Feb are off.
    assert answer_due(OFFICIAL, D(2026, 2, 6)) == Deadline(D(2026, 3, 12), estimated=False)


def test_receipt_on_a_holiday_is_not_counted_either() -> None:
    # Received on 17 Feb (the holiday): counting starts with the first working day, 24 Feb.
    assert answer_due(OFFICIAL, D(2026, 2, 17)).day == D(2026, 3, 20)
    # Received on the working Saturday 14 Feb: that day is not counted; received the day
    # before, it is the first of the twenty.
    assert answer_due(OFFICIAL, D(2026, 2, 14)).day == D(2026, 3, 20)
    assert answer_due(OFFICIAL, D(2026, 2, 13)).day == D(2026, 3, 19)


def test_national_day_2025_and_the_working_saturday_after_it() -> None:
    # 1–8 Oct off, Sat 11 Oct works: 9, 10, 11, 13 … 4 Nov.
    assert answer_due(OFFICIAL, D(2025, 9, 30)).day == D(2025, 11, 4)


def test_extension_adds_working_days_once() -> None:
    clock = RequestClock(D(2025, 9, 30), extension_days=20)
    assert clock.due(OFFICIAL).day == D(2025, 12, 2)


def test_supplement_stops_the_clock_and_clarification_restarts_the_twenty_days() -> None:
    assert supplement_deadline(OFFICIAL, D(2026, 2, 6)).day == D(2026, 2, 24)
    waiting = RequestClock(D(2026, 2, 6), supplement_sent_on=D(2026, 2, 10))
    assert waiting.stopped
    supplied = RequestClock(
        D(2026, 2, 6), supplement_sent_on=D(2026, 2, 10), supplied_on=D(2026, 3, 2)
    )
    assert not supplied.stopped
    assert supplied.due(OFFICIAL).day == D(2026, 3, 30)


def test_third_party_opinion_time_is_not_counted() -> None:
    # Waiting 13–17 Oct 2025: four working days (14, 15, 16, 17) do not count.
    clock = RequestClock(D(2025, 9, 30), pauses=(Pause(D(2025, 10, 13), D(2025, 10, 17)),))
    assert clock.due(OFFICIAL).day == D(2025, 11, 10)
    assert RequestClock(D(2025, 9, 30), pauses=(Pause(D(2025, 10, 13)),)).stopped


def test_past_the_library_the_holidays_yaml_estimate_is_used() -> None:
    calendar = WorkCalendar(load_content(CONTENT).holidays)
    with pytest.raises(NotImplementedError):
        import chinese_calendar

        chinese_calendar.is_workday(D(2027, 2, 4))
    # holidays.yaml: 5–14 Feb 2027 off, Sat 20 Feb works.
    assert answer_due(calendar, D(2027, 2, 4)) == Deadline(D(2027, 3, 11), estimated=True)
    # National Day 2027: 1–7 Oct off; Fri 8 and Sat 9 Oct work.
    assert answer_due(calendar, D(2027, 9, 30)).day == D(2027, 11, 3)
    # Without the file: plain Monday–Friday, still estimated, never a crash.
    assert answer_due(WorkCalendar(), D(2027, 2, 4)) == Deadline(D(2027, 3, 4), estimated=True)


def test_comment_periods() -> None:
    assert period_shortfall(OFFICIAL, "重大行政决策", D(2026, 1, 1), D(2026, 1, 30)) is None
    short = period_shortfall(OFFICIAL, "重大行政决策", D(2026, 1, 1), D(2026, 1, 29))
    assert short and "30 日" in short and "29 日" in short
    # 28 Sep 2025 is a working Sunday; 1–8 Oct are off: 28, 29, 30 Sep and 9 Oct = 4.
    short = period_shortfall(OFFICIAL, "规范性文件", D(2025, 9, 28), D(2025, 10, 9))
    assert short and "仅 4 个工作日" in short
    assert period_shortfall(OFFICIAL, "规范性文件", D(2025, 9, 28), D(2025, 10, 14)) is None
    assert period_shortfall(OFFICIAL, "调研", D(2026, 1, 1), D(2026, 1, 1)) is None
    assert period_shortfall(OFFICIAL, "调研", D(2026, 1, 2), D(2026, 1, 1))
