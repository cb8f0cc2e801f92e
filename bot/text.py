"""Text budgets WeChat imposes, shared by every part that writes to residents.

At the bottom of the house: chat replies, search replies and push messages
all cut their text here, on a character boundary, counting UTF-8 bytes.
"""

from __future__ import annotations

TEXT_REPLY_LIMIT = 2047  # bytes of UTF-8; WeChat cuts or refuses longer text replies


def fit_bytes(text: str, limit: int, ellipsis: str = "…") -> str:
    """Cut ``text`` so its UTF-8 form stays within ``limit`` bytes, on a character boundary."""
    if len(text.encode("utf-8")) <= limit:
        return text
    room = limit - len(ellipsis.encode("utf-8"))
    cut = text.encode("utf-8")[:room].decode("utf-8", "ignore")
    return cut + ellipsis
