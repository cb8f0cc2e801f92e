"""Keyword search over published policies, interpretations and catalog items.

Minimal placeholder so the app can start; the full index lands shortly.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.config import Settings
from bot.search.hits import Hit

log = logging.getLogger("bot.search")


class SearchIndex:
    def __init__(self, settings: Settings, redis: Any = None) -> None:
        self.settings = settings
        self.redis = redis

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def search(self, query: str, limit: int = 5) -> list[Hit]:
        return []


__all__ = ["Hit", "SearchIndex"]
