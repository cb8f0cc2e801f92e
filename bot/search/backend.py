"""What the web and chat edges need from search, so another engine can serve it.

``SearchIndex`` (the in-process BM25F index) is the one implementation today. A
province deployment could put OpenSearch with an IK analyser behind the same
five calls: ``find`` returns ``Found`` (hits, the corrected query, the life-event
fallback, the quoted passage), ``search`` only the hits that answer, ``refresh``
applies the database's changes now (a publisher calls it to see its own write),
``start``/``stop`` bracket the process.
"""

from __future__ import annotations

from typing import Protocol

from bot.search.hits import Found, Hit


class SearchBackend(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def refresh(self) -> bool: ...

    async def search(self, query: str, limit: int = 5) -> list[Hit]: ...

    async def find(self, query: str, limit: int = 5) -> Found: ...
