"""The channels a campaign can go out by, registered in one place.

Adding a channel: one module here subclassing ``DeliveryChannel``, its class
in ``REGISTRY``, its value in ``bot.push.models.Channel``, and its config
section in ``bot/config.py``. The engine picks a run's channel by the
campaign's ``channel`` (or a fallback's) and never names one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.push.channels.base import DeliveryChannel
from bot.push.channels.email import EmailChannel
from bot.push.channels.sms import SmsChannel
from bot.push.channels.wechat import CustomerChannel, MassChannel, TemplateChannel

if TYPE_CHECKING:
    from bot.services import Services

REGISTRY: tuple[type[DeliveryChannel], ...] = (
    TemplateChannel,
    CustomerChannel,
    MassChannel,
    SmsChannel,
    EmailChannel,
)


def open_channels(services: Services) -> dict[str, DeliveryChannel]:
    """The channels this deployment has configured, by name."""
    return {c.name: c(services) for c in REGISTRY if c.configured(services.settings)}


def channel_class(name: str) -> type[DeliveryChannel] | None:
    """The registered channel of this name (for what a run needs before it sends)."""
    return next((c for c in REGISTRY if c.name == name), None)
