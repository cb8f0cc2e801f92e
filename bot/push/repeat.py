"""Readable repetitions ("每周一 09:00") to and from the five-field cron rules campaigns store.

The console offers daily, weekly and monthly repetitions; any other rule
(written through the API or the CLI) is shown as it is.
"""

from __future__ import annotations

import re

from bot.errors import Invalid

WEEKDAYS = {
    "mon": "一",
    "tue": "二",
    "wed": "三",
    "thu": "四",
    "fri": "五",
    "sat": "六",
    "sun": "日",
}
KINDS = {"daily": "每天", "weekly": "每周", "monthly": "每月"}
_RULE = re.compile(r"^(\d{1,2}) (\d{1,2}) (\*|\d{1,2}) \* (\*|mon|tue|wed|thu|fri|sat|sun)$")


def to_cron(kind: str, at: str, weekday: str = "mon", day: str = "1") -> str:
    """``("weekly", "09:30", "mon")`` → ``"30 9 * * mon"``; Invalid when a part is off."""
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", at.strip())
    if match is None:
        raise Invalid("invalid", "重复发送的时间应为 时:分，如 09:00")
    hour, minute = int(match.group(1)), int(match.group(2))
    if kind == "daily":
        return f"{minute} {hour} * * *"
    if kind == "weekly":
        if weekday not in WEEKDAYS:
            raise Invalid("invalid", "请选择星期几")
        return f"{minute} {hour} * * {weekday}"
    if kind == "monthly":
        if not day.isdigit() or not 1 <= int(day) <= 28:
            raise Invalid("invalid", "每月的日期应为 1–28 日（每个月都有的日子）")
        return f"{minute} {hour} {int(day)} * *"
    raise Invalid("invalid", "重复方式应为每天、每周或每月")


def describe(cron: str | None) -> str:
    """A cron rule in words, when it is one the console writes; else the rule itself."""
    if not cron:
        return ""
    match = _RULE.match(cron.strip())
    if match is None:
        return f"按规则 {cron}"
    minute, hour, day, weekday = match.groups()
    at = f"{int(hour):02d}:{int(minute):02d}"
    if day == "*" and weekday == "*":
        return f"每天 {at}"
    if day == "*":
        return f"每周{WEEKDAYS[weekday]} {at}"
    if weekday == "*":
        return f"每月 {int(day)} 日 {at}"
    return f"按规则 {cron}"
