"""What a campaign says, shaped for each channel.

A campaign carries a title, optional text and a link to a policy or an
interpretation; the link points at ``server.base_url`` so residents land on
our own pages.

Template data: templates in WeChat's library name their keys per template
(``thing1``, ``time2``, ``phrase3``…), each key type with its own length limit
(WeChat refuses a longer value with 47003). ``[push.templates.<template_id>]``
maps each key to a part of the message (``title``, ``text``, ``date``,
``time``, or ``=fixed words``); values are cut to their type's limit. A
template without a mapping gets the keys ``title``, ``content`` and ``date``
(``{{title.DATA}}``… on the account), cut at 200 characters. 订阅通知
templates take the same data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot import privacy
from bot.catalog.models import Interpretation, Policy
from bot.config import Settings
from bot.errors import Unavailable
from bot.push.models import Campaign
from bot.text import fit_bytes
from bot.wechat.templates import KEY_LIMITS, key_type

TEXT_LIMIT = 2000  # bytes; customer and mass text stay well under WeChat's limits
TEMPLATE_VALUE_LIMIT = 200  # characters per field of a template without a key mapping


def fit_value(key: str, value: str) -> str:
    """Cut ``value`` to the limit of ``key``'s type (an ellipsis marks cut prose)."""
    kind = key_type(key)
    limit = KEY_LIMITS[kind] if kind else TEMPLATE_VALUE_LIMIT
    if kind is not None:
        value = " ".join(value.split())  # typed keys are one line
    if kind in ("number", "character_string", "letter"):
        value = "".join(c for c in value if c.isascii() and not c.isspace())
    if len(value) <= limit:
        return value
    if kind in ("thing", None):
        return value[: limit - 1] + "…"
    return value[:limit]


@dataclass(frozen=True)
class Message:
    title: str
    text: str
    url: str | None

    def plain(self) -> str:
        """One text for customer and mass sends: title, text, link."""
        parts = [f"【{self.title}】", self.text.strip()]
        if self.url:
            parts.append(f"详情：{self.url}")
        return fit_bytes("\n".join(p for p in parts if p), TEXT_LIMIT)

    def part(self, name: str, now: datetime) -> str:
        """One part of the message as a template value (``=words`` is fixed text)."""
        if name.startswith("="):
            return name[1:]
        return {
            "title": self.title,
            "text": self.text.strip() or "点击查看详情",
            "date": now.strftime("%Y-%m-%d"),
            "time": now.strftime("%Y-%m-%d %H:%M"),
        }[name]

    def template_data(self, now: datetime, keys: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The ``data`` of a template send: ``keys`` maps template keys to message parts."""
        keys = keys or {"title": "title", "content": "text", "date": "date"}
        return {key: {"value": fit_value(key, self.part(part, now))} for key, part in keys.items()}

    def mass_payload(self) -> dict[str, Any]:
        return {"msgtype": "text", "text": {"content": self.plain()}}


def link_of(campaign: Campaign, base: str) -> str | None:
    """Where the notice points: the interpretation (plain words) before the policy."""
    if campaign.interpretation_id:
        return f"{base}/interpretations/{campaign.interpretation_id}"
    if campaign.policy_id:
        return f"{base}/policies/{campaign.policy_id}"
    return None


def tracked_link(settings: Settings, url: str | None, delivery_id: int) -> str | None:
    """A per-recipient link that counts the first visit (``/r/{token}``, signed, nothing else kept).

    Without ``privacy.key`` nothing can be signed and the plain link is used.
    """
    if not url:
        return None
    try:
        token = privacy.sign("open", str(delivery_id))
    except Unavailable:
        return url
    return f"{settings.server.base_url}/r/{token}"


async def build(campaign: Campaign, settings: Settings) -> Message:
    """The message of a campaign; the link prefers the interpretation (plain words)."""
    url = link_of(campaign, settings.server.base_url)
    text = campaign.text
    if not text and campaign.policy_id:
        policy = await Policy.get_or_none(id=campaign.policy_id)
        text = policy.summary if policy else ""
    if not text and campaign.interpretation_id:
        interpretation = await Interpretation.get_or_none(id=campaign.interpretation_id)
        text = interpretation.title if interpretation else ""
    return Message(title=campaign.title, text=text, url=url)
