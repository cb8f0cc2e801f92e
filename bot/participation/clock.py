"""The legal clocks of public participation, on the disclosure calendar.

Everything counts working days on ``bot.catalog.deadlines.WorkCalendar``
(chinese_calendar, then Monday–Friday plus ``content/holidays.yaml`` for years
the library does not know yet, marked *estimated*). The rules, from the
政府信息公开条例 (articles 30, 32, 33) and the 重大行政决策程序暂行条例:

- an answer is due on the 20th working day after the day of receipt; the day of
  receipt is not counted, whether or not it is a working day;
- it may be extended once, by at most 20 working days, with an approver and a reason;
- a request for 补正 must go out within 7 working days of receipt; it stops the
  clock, and the 20 days start again from the day the clarification arrives;
- the working days spent waiting for a third party's opinion are not counted;
- a 重大行政决策 draft is open for comment at least 30 days, a 规范性文件 draft at
  least 7 working days, unless a reason for a shorter period is given.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.catalog.deadlines import Deadline, WorkCalendar

ANSWER_WORKING_DAYS = 20
MAX_EXTENSION_WORKING_DAYS = 20
SUPPLEMENT_WITHIN_WORKING_DAYS = 7
MAJOR_DECISION_MIN_DAYS = 30  # natural days: 重大行政决策
NORMATIVE_MIN_WORKING_DAYS = 7  # 规范性文件


@dataclass(frozen=True)
class Pause:
    """Time waiting for a third party's opinion: working days in (``since``, ``until``]."""

    since: dt.date
    until: dt.date | None = None  # still waiting


@dataclass(frozen=True)
class RequestClock:
    """The facts a request's due date follows from."""

    received_on: dt.date
    supplement_sent_on: dt.date | None = None  # 补正 asked; the clock stands still
    supplied_on: dt.date | None = None  # clarification arrived; the count starts again
    extension_days: int = 0
    pauses: tuple[Pause, ...] = ()

    @property
    def start(self) -> dt.date:
        """The day the 20 working days count from (not itself counted)."""
        return self.supplied_on or self.received_on

    @property
    def stopped(self) -> bool:
        """Waiting for the applicant's 补正 or for a third party: no due date runs."""
        waiting = self.supplement_sent_on is not None and self.supplied_on is None
        return waiting or any(p.until is None for p in self.pauses)

    def due(self, calendar: WorkCalendar) -> Deadline:
        """The last day to answer; while stopped, the date it would be if it ran again today
        (callers show ``stopped`` beside it)."""
        paused = sum(
            calendar.working_days_between(max(p.since, self.start), p.until)
            for p in self.pauses
            if p.until is not None and p.until > self.start
        )
        days = ANSWER_WORKING_DAYS + self.extension_days + paused
        return calendar.add_working_days(self.start, days)


def answer_due(calendar: WorkCalendar, received_on: dt.date) -> Deadline:
    """Due date of a request just received."""
    return RequestClock(received_on).due(calendar)


def supplement_deadline(calendar: WorkCalendar, received_on: dt.date) -> Deadline:
    """The last day a 补正 notice may go out."""
    return calendar.add_working_days(received_on, SUPPLEMENT_WITHIN_WORKING_DAYS)


def period_shortfall(
    calendar: WorkCalendar, kind: str, opens_on: dt.date, closes_on: dt.date
) -> str | None:
    """Why a comment period (``opens_on`` .. ``closes_on``, both days included) is shorter
    than the law allows, or None when it is long enough (调研 has no minimum)."""
    if closes_on < opens_on:
        return "截止日期早于开始日期"
    if kind == "重大行政决策":
        days = (closes_on - opens_on).days + 1
        if days < MAJOR_DECISION_MIN_DAYS:
            return f"重大行政决策征求意见期限不少于 {MAJOR_DECISION_MIN_DAYS} 日，当前仅 {days} 日"
    elif kind == "规范性文件":
        days = calendar.working_days_between(opens_on - dt.timedelta(days=1), closes_on)
        if days < NORMATIVE_MIN_WORKING_DAYS:
            return (
                f"规范性文件征求意见期限不少于 {NORMATIVE_MIN_WORKING_DAYS} 个工作日，"
                f"当前仅 {days} 个工作日"
            )
    return None
