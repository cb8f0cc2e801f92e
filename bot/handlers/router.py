"""A small router in the aiogram style: one ``Router`` per handler module,
handlers registered with a decorator and a filter, routers included into a
root in one place (``bot.handlers.dispatcher``)."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.handlers.types import Context, Incoming, Reply

log = logging.getLogger("bot.handlers")


class Pass:
    """What a handler returns when, having looked closer (e.g. at the database), the
    message is not for it after all: the next route that accepts it runs."""


PASS = Pass()

Handler = Callable[[Incoming, Context], Awaitable[Reply | Pass | None]]
Filter = Callable[[Incoming], bool]


@dataclass
class Route:
    name: str
    filter: Filter
    handler: Handler


@dataclass
class Router:
    name: str
    routes: list[Route] = field(default_factory=list)

    def register(self, filter: Filter) -> Callable[[Handler], Handler]:
        def decorator(handler: Handler) -> Handler:
            self.routes.append(Route(f"{self.name}.{handler.__name__}", filter, handler))
            return handler

        return decorator

    def kind(self, *kinds: str) -> Callable[[Handler], Handler]:
        """Messages or events of these kinds (``text``, ``image``, ``subscribe``…)."""
        return self.register(lambda m: m.kind in kinds)

    def command(self, *words: str) -> Callable[[Handler], Handler]:
        """Text that is one of ``words``, or starts with one followed by a space or colon."""
        alternatives = "|".join(map(re.escape, words))
        pattern = re.compile(rf"^(?:{alternatives})(?:$|[\s:：])")
        return self.register(lambda m: m.kind == "text" and bool(pattern.match(m.text.strip())))

    def click(self, key: str | None = None) -> Callable[[Handler], Handler]:
        """A menu click, optionally only the one with this key."""
        return self.register(lambda m: m.kind == "click" and (key is None or m.text == key))


def command_argument(text: str) -> str:
    """The words after the command: ``订阅 低保`` → ``低保``."""
    parts = re.split(r"[\s:：]+", text.strip(), maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


class Dispatcher:
    """Runs the first route whose filter accepts the message and whose handler does not PASS."""

    def __init__(self, routers: list[Router]) -> None:
        self.routes = [route for router in routers for route in router.routes]

    def route_for(self, message: Incoming) -> Route | None:
        return next((r for r in self.routes if r.filter(message)), None)

    async def dispatch(self, message: Incoming, ctx: Context) -> tuple[str, Reply | None]:
        for route in self.routes:
            if route.filter(message):
                reply = await route.handler(message, ctx)
                if not isinstance(reply, Pass):
                    return route.name, reply
        return "none", None
