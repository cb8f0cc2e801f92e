"""The seam between the delivery engine and the ways a notice reaches a resident.

The engine (``bot/push/delivery.py``) claims rows, queues them, holds each
provider to its rate ceiling, retries with backoff and records outcomes; it
knows no channel by name. A channel (one module in this package, like a
listmonk messenger or a Mailman delivery function) says four things: what one
call carries (one resident, or a chunk of residents for WeChat's mass send),
who may not get it now (``eligible``), the call itself (``send``), and how its
failures split (``classify``) into permanent (recorded, never retried),
transient (retried with backoff), rate-limited (the sender slows down) and
fatal (the whole send would fail the same way).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar

from bot.push.message import Message

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.services import Services


class Unit(StrEnum):
    resident = "resident"  # one call per delivery row
    chunk = "chunk"  # one call for every row of the same ``Delivery.chunk``


class Fate(StrEnum):
    permanent = "permanent"  # record as failed; never retry
    transient = "transient"  # retry with backoff, up to ``push.max_attempts``
    rate_limited = "rate_limited"  # slow this provider down, retry later (no attempt counted)
    fatal = "fatal"  # every other row would fail the same way: fail the run


@dataclass(frozen=True, slots=True)
class Failure:
    """A provider's refusal, classified by the channel that made the call."""

    fate: Fate
    code: int | str | None
    message: str
    delay: float | None = None  # a fixed wait before the retry (else backoff)
    counts: bool = True  # a retry uses up an attempt
    about_resident: str | None = None  # permanent refusals about the resident (why, in Chinese)


@dataclass(slots=True)
class Item:
    """One claimed delivery row."""

    id: int
    run_id: int
    openid: str
    attempts: int
    chunk: int | None


@dataclass
class RunInfo:
    """What the engine and the channels know about a running send."""

    id: int
    campaign_id: int
    kind: str
    channel: DeliveryChannel
    message: Message
    template_id: str
    mass_tag_id: int | None
    topic_id: str | None
    materialized: bool
    cancelled: bool = False


@dataclass(frozen=True, slots=True)
class Skip:
    """Rows a channel will not send now, and why (shown in the campaign's report)."""

    items: list[Item]
    reason: str
    until: datetime | None = None  # held until then (a daily limit), not skipped for good


class DeliveryChannel:
    """One way of reaching residents; subclasses live one per module in this package."""

    name: ClassVar[str]  #: the value campaigns and delivery rows carry (``Channel``)
    unit: ClassVar[Unit] = Unit.resident
    bucket: ClassVar[str]  #: channels of one provider share its rate ceiling
    chunk_size: ClassVar[int] = 1  #: rows one call carries (``Unit.chunk`` only)
    #: the provider drops a resend of the same delivery (WeChat's client_msg_id); when not,
    #: the engine records each acknowledgement before the sender takes its next job
    deduplicates: ClassVar[bool] = True

    def __init__(self, services: Services) -> None:
        self.services = services

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @classmethod
    def configured(cls, settings: Settings) -> bool:
        """Whether this deployment can use the channel (its config section is filled in)."""
        return True

    def rate(self) -> float:
        """Calls per second this channel's ``bucket`` allows."""
        return self.settings.push.rate_per_second

    def for_test(self) -> DeliveryChannel:
        """The channel a test send of this channel uses (mass previews instead)."""
        return self

    async def eligible(
        self, run: RunInfo, items: list[Item], now: datetime
    ) -> tuple[list[Item], list[Skip]]:
        """Split claimed rows into those to send now and those skipped for good."""
        return items, []

    async def send(self, run: RunInfo, items: list[Item]) -> str | None:
        """Make the call for ``items`` (one row, or one chunk); the provider's id, if any."""
        raise NotImplementedError

    def classify(self, exc: Exception) -> Failure | None:
        """Sort the provider's refusal; ``None`` for errors that are not the provider's."""
        return None

    async def refused(self, item: Item, failure: Failure) -> None:
        """A permanent refusal about the resident: remember it (unfollowed, bad number…)."""
