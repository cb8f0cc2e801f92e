"""WeChat's reports on our sends: ``TEMPLATESENDJOBFINISH`` and ``MASSSENDJOBFINISH``.

They arrive through the callback like a resident's event; they need no
reply (the callback answers ``success``) and feed the campaign's reach.
"""

from __future__ import annotations

from bot.handlers.router import Router
from bot.handlers.types import Context, Incoming, Reply
from bot.push import reach

router = Router("reach")


@router.kind("templatesendjobfinish")
async def template_finished(message: Incoming, ctx: Context) -> Reply | None:
    await reach.wechat_template_finished(
        str(message.raw.get("MsgID", "")), str(message.raw.get("Status", ""))
    )
    return None


@router.kind("masssendjobfinish")
async def mass_finished(message: Incoming, ctx: Context) -> Reply | None:
    await reach.wechat_mass_finished(str(message.raw.get("MsgID", "")), message.raw)
    return None
