"""What a campaign says, shaped for each channel.

A campaign carries a title, optional text and a link to a policy or an
interpretation; the link points at ``server.base_url`` so residents land on
our own pages. Template data uses the keys ``title``, ``content`` and
``date`` (a template on the account must use ``{{title.DATA}}``,
``{{content.DATA}}`` and ``{{date.DATA}}``); 订阅通知 templates take the same
data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.catalog.models import Interpretation, Policy
from bot.config import Settings
from bot.push.models import Campaign
from bot.text import fit_bytes

TEXT_LIMIT = 2000  # bytes; customer and mass text stay well under WeChat's limits
TEMPLATE_VALUE_LIMIT = 200  # characters per template field


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

    def template_data(self, now: datetime) -> dict[str, Any]:
        content = self.text.strip() or "点击查看详情"
        return {
            "title": {"value": self.title[:TEMPLATE_VALUE_LIMIT]},
            "content": {"value": content[:TEMPLATE_VALUE_LIMIT]},
            "date": {"value": now.strftime("%Y-%m-%d")},
        }

    def mass_payload(self) -> dict[str, Any]:
        return {"msgtype": "text", "text": {"content": self.plain()}}


async def build(campaign: Campaign, settings: Settings) -> Message:
    """The message of a campaign; the link prefers the interpretation (plain words)."""
    base = settings.server.base_url
    url = None
    text = campaign.text
    if campaign.interpretation_id:
        url = f"{base}/interpretations/{campaign.interpretation_id}"
    elif campaign.policy_id:
        url = f"{base}/policies/{campaign.policy_id}"
    if not text and campaign.policy_id:
        policy = await Policy.get_or_none(id=campaign.policy_id)
        text = policy.summary if policy else ""
    if not text and campaign.interpretation_id:
        interpretation = await Interpretation.get_or_none(id=campaign.interpretation_id)
        text = interpretation.title if interpretation else ""
    return Message(title=campaign.title, text=text, url=url)
