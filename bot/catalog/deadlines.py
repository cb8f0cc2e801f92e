"""Working-day deadlines for proactive disclosure (主动公开).

The 政府信息公开条例 gives 20 working days from the day a document is
made (成文日期). Working days follow the official calendar — public holidays
and the weekend days swapped into workdays — from chinese_calendar. That
library only knows the years the State Council has announced; for a later
year we fall back to Monday–Friday plus ``content/holidays.yaml``, mark the
result as estimated and log a warning once per year, never crash.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import chinese_calendar

from bot.catalog import stored
from bot.catalog.loader import Holidays
from bot.catalog.models import Disclosure, Policy, Status

log = logging.getLogger("bot.catalog")

DISCLOSURE_WORKING_DAYS = 20
AT_RISK_WORKING_DAYS = 5
SHANGHAI = ZoneInfo("Asia/Shanghai")
_warned_years: set[int] = set()


@dataclass(frozen=True)
class Deadline:
    day: dt.date
    estimated: bool  # some day in the count came from the fallback calendar


_ANCHOR = dt.date(2000, 1, 1)


class WorkCalendar:
    """Answers "is this a working day?" from chinese_calendar, else the fallback."""

    def __init__(self, holidays: Holidays | None = None) -> None:
        self.holidays = holidays or Holidays()
        # Memos: the dashboard asks about the same days for thousands of policies.
        self._days: dict[dt.date, tuple[bool, bool]] = {}
        self._counted: dict[dt.date, int] = {}  # working days in (ANCHOR, day]
        self._added: dict[tuple[dt.date, int], Deadline] = {}

    def is_workday(self, day: dt.date) -> tuple[bool, bool]:
        """(working day?, estimated?)."""
        known = self._days.get(day)
        if known is None:
            known = self._days[day] = self._lookup(day)
        return known

    def _lookup(self, day: dt.date) -> tuple[bool, bool]:
        try:
            return bool(chinese_calendar.is_workday(day)), False
        except NotImplementedError:
            if day.year not in _warned_years:
                _warned_years.add(day.year)
                log.warning(
                    "official holiday calendar unknown for this year; deadlines are estimated",
                    extra={"year": day.year, "fallback": "Mon-Fri + content/holidays.yaml"},
                )
        if day in self.holidays.workdays:
            return True, True
        if day in self.holidays.holidays:
            return False, True
        return day.weekday() < 5, True

    def add_working_days(self, start: dt.date, days: int) -> Deadline:
        """The ``days``-th working day after ``start`` (``start`` itself is not counted)."""
        known = self._added.get((start, days))
        if known is None:
            known = self._added[(start, days)] = self._add(start, days)
        return known

    def _add(self, start: dt.date, days: int) -> Deadline:
        day, counted, estimated = start, 0, False
        while counted < days:
            day += dt.timedelta(days=1)
            workday, guess = self.is_workday(day)
            estimated = estimated or guess
            counted += workday
        return Deadline(day, estimated)

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days in (start, end]; negative when ``end`` is before ``start``."""
        return self._count_to(end) - self._count_to(start)

    def _count_to(self, day: dt.date) -> int:
        """Working days from a fixed anchor to ``day`` (negative before it), memoised."""
        known = self._counted.get(day)
        if known is not None:
            return known
        if day == _ANCHOR:
            return 0
        step = dt.timedelta(days=1)
        if day > _ANCHOR:
            # Walk back to the nearest day already counted (at worst the anchor).
            back = day - step
            while back > _ANCHOR and back not in self._counted:
                back -= step
            total = self._counted.get(back, 0)
            while back < day:
                back += step
                total += self.is_workday(back)[0]
                self._counted[back] = total
        else:
            ahead = day + step
            while ahead < _ANCHOR and ahead not in self._counted:
                ahead += step
            total = self._counted.get(ahead, 0)
            while ahead > day:
                total -= self.is_workday(ahead)[0]
                ahead -= step
                self._counted[ahead] = total
        return self._counted[day]


async def stored_calendar() -> WorkCalendar:
    """The calendar completed by ``holidays.yaml`` as ``content sync`` stored it."""
    return WorkCalendar(await stored.holidays())


def disclosure_deadline(calendar: WorkCalendar, written_on: dt.date) -> Deadline:
    return calendar.add_working_days(written_on, DISCLOSURE_WORKING_DAYS)


@dataclass(frozen=True)
class DeadlineItem:
    policy_id: str
    title: str
    status: str
    written_on: dt.date
    deadline: dt.date
    estimated: bool
    published_on: dt.date | None
    state: str  # late | at_risk
    working_days_left: int  # negative when overdue

    def to_json(self) -> dict[str, object]:
        return {
            "policy_id": self.policy_id,
            "title": self.title,
            "status": self.status,
            "written_on": self.written_on.isoformat(),
            "deadline": self.deadline.isoformat(),
            "estimated": self.estimated,
            "published_on": self.published_on.isoformat() if self.published_on else None,
            "state": self.state,
            "working_days_left": self.working_days_left,
        }


def disclosed_on(
    published_on: dt.date | None, published_at: dt.datetime | None, tz: dt.tzinfo
) -> dt.date | None:
    """The day a document was really disclosed: when the service published it, whatever
    date was typed; a content file's own 发布日期 where the service never saw it go out."""
    return published_at.astimezone(tz).date() if published_at else published_on


async def deadline_report(
    calendar: WorkCalendar,
    today: dt.date,
    *,
    at_risk_days: int = AT_RISK_WORKING_DAYS,
    since: dt.date | None = None,
    tz: dt.tzinfo = SHANGHAI,
) -> list[DeadlineItem]:
    """Proactive-disclosure policies published late, overdue, or due within ``at_risk_days``."""
    query = Policy.filter(disclosure=Disclosure.proactive).exclude(status=Status.unpublished)
    if since:
        query = query.filter(written_on__gte=since)
    rows = await query.order_by("written_on").values_list(
        "id", "title", "status", "written_on", "published_on", "published_at"
    )
    items = []
    for policy_id, title, status, written_on, published_on, published_at in rows:
        due = disclosure_deadline(calendar, written_on)
        published = status == Status.published
        done_on = disclosed_on(published_on, published_at, tz) if published else None
        if done_on is not None:
            if done_on <= due.day:
                continue
            left = -calendar.working_days_between(due.day, done_on)
            state = "late"
        else:
            left = calendar.working_days_between(today, due.day)
            if today > due.day:
                state = "late"
            elif left <= at_risk_days:
                state = "at_risk"
            else:
                continue
        items.append(
            DeadlineItem(
                policy_id,
                title,
                str(status),
                written_on,
                due.day,
                due.estimated,
                done_on or published_on,
                state,
                left,
            )
        )
    return items
