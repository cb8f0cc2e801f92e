"""Local time for pushes: quiet hours and the month a mass quota counts in.

Times are stored in UTC; the rules residents feel (no messages at night,
4 mass sends a month) are in ``server.timezone``.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_window(spec: str) -> tuple[time, time] | None:
    """``22:00-08:00`` → (22:00, 08:00); empty → None (quiet hours off)."""
    if not spec:
        return None
    start, end = spec.split("-")
    h1, m1 = map(int, start.split(":"))
    h2, m2 = map(int, end.split(":"))
    if (h1, m1) == (h2, m2):
        return None
    return time(h1, m1), time(h2, m2)


def quiet_until(now: datetime, spec: str, tz: ZoneInfo) -> datetime | None:
    """When the quiet window containing ``now`` ends (UTC), or None outside it."""
    window = parse_window(spec)
    if window is None:
        return None
    start, end = window
    local = now.astimezone(tz)
    t = local.time()
    inside = (start <= t < end) if start < end else (t >= start or t < end)
    if not inside:
        return None
    end_local = datetime.combine(local.date(), end, tzinfo=tz)
    if end_local <= local:
        end_local += timedelta(days=1)
    return end_local.astimezone(UTC)


def month_start(now: datetime, tz: ZoneInfo) -> datetime:
    """The first instant of ``now``'s local month, in UTC."""
    local = now.astimezone(tz)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def parse_when(value: str, tz: ZoneInfo) -> datetime:
    """ISO 8601; a time without an offset is local time in ``tz``."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


def cron_trigger(rule: str, tz: Any) -> CronTrigger:
    """A five-field crontab rule in the server's zone (ValueError when malformed)."""
    return CronTrigger.from_crontab(rule, timezone=tz)
