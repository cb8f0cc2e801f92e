"""What the catalog tells the rest of the service: policies newly published.

The catalog sits below pushes in the house and cannot call them, so the push
domain subscribes here (``bot.push.notify``) and publishing and ``content sync``
announce, inside their own transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from tortoise.backends.base.client import BaseDBAsyncClient

Listener = Callable[[list[str], BaseDBAsyncClient], Awaitable[None]]
_listeners: list[Listener] = []


def on_policies_published(listener: Listener) -> Listener:
    """Register ``listener`` (idempotent); usable as a decorator."""
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


async def policies_published(ids: Iterable[str], conn: BaseDBAsyncClient) -> None:
    ids = list(ids)
    if ids:
        for listener in _listeners:
            await listener(ids, conn)
