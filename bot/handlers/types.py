"""What handlers receive and return: a typed message, a context, a reply.

Handlers never see HTTP, XML or encryption; the transport turns a reply into
WeChat's passive-reply XML, or into a customer-service message when the
handler was too slow for WeChat's 5-second window.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.text import TEXT_REPLY_LIMIT, fit_bytes

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.services import Services


@dataclass(frozen=True)
class Incoming:
    """One message or event from a resident, as parsed by wechatpy.

    ``kind`` is the message type (text, image, voice, video, shortvideo,
    location, link) or, for events, the lower-cased event name (subscribe,
    unsubscribe, click, view, subscribe_msg_popup_event, …). ``text`` is the
    content of a text, WeChat's speech recognition of a voice message, the
    label of a shared location, or an event's key.
    """

    kind: str
    openid: str
    created_at: datetime
    text: str = ""  # text content, or the event key of a click
    msg_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)  # every field WeChat sent
    point: tuple[float, float] | None = None  # a shared location's (纬度, 经度)

    @property
    def dedup_key(self) -> str:
        if self.msg_id:
            return f"msg:{self.msg_id}"
        event_key = self.raw.get("EventKey") or ""
        return f"evt:{self.openid}:{int(self.created_at.timestamp())}:{self.kind}:{event_key}"[:160]


@dataclass(frozen=True)
class TextReply:
    text: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", fit_bytes(self.text, TEXT_REPLY_LIMIT))

    def to_json(self) -> dict[str, Any]:
        return {"type": "text", "text": self.text}


@dataclass(frozen=True)
class Article:
    title: str
    description: str
    url: str
    image: str = ""


@dataclass(frozen=True)
class NewsReply:
    """A 图文 reply: WeChat allows one article in a reply to a message (45008)."""

    article: Article

    def to_json(self) -> dict[str, Any]:
        a = self.article
        return {
            "type": "news",
            "title": a.title,
            "description": a.description,
            "url": a.url,
            "image": a.image,
        }


Reply = TextReply | NewsReply


def reply_from_json(data: dict[str, Any] | None) -> Reply | None:
    if not data:
        return None
    if data.get("type") == "news":
        return NewsReply(
            Article(data["title"], data["description"], data["url"], data.get("image", ""))
        )
    return TextReply(data["text"])


@dataclass
class Context:
    """Per-message context: who wrote, when, and the process's services."""

    services: Services
    message: Incoming
    now: datetime
    #: run a message through the routers as if the resident had typed it (menu clicks)
    dispatch: Callable[[Incoming, Context], Awaitable[tuple[str, Reply | None]]] | None = None

    @property
    def settings(self) -> Settings:
        return self.services.settings
