"""WeChat's template data keys: each key names its type (``thing1``, ``time2``…)
and each type has a length limit that WeChat enforces with 47003.

Shared by the config check, the push message and the WeChat stand-in.
"""

from __future__ import annotations

import re

# Key types and their limits in characters (订阅通知 and 类目模板 alike).
KEY_LIMITS: dict[str, int] = {
    "thing": 20,
    "short_thing": 5,
    "phrase": 5,
    "name": 10,
    "character_string": 32,
    "number": 32,
    "letter": 32,
    "symbol": 5,
    "amount": 11,
    "phone_number": 17,
    "car_number": 8,
    "time": 32,
    "date": 32,
}
#: the parts of a push message a key may carry (``=words`` is fixed text)
PARTS = ("title", "text", "date", "time")
_KEY = re.compile(r"([a-z_]+?)(\d+)")


def key_type(key: str) -> str | None:
    """``thing1`` → ``thing``; ``None`` for a key that is not one of WeChat's types."""
    match = _KEY.fullmatch(key)
    return match.group(1) if match and match.group(1) in KEY_LIMITS else None


def too_long(key: str, value: str) -> bool:
    """What WeChat refuses with 47003: a typed key's value over its type's limit."""
    kind = key_type(key)
    return kind is not None and len(value) > KEY_LIMITS[kind]
