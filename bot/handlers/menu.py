"""Menu clicks answer as configured in ``content/menu.yaml``, as ``content sync`` stored it.

A click's ``reply`` is text, ``{search: 关键词}`` (answered like a query) or
``{command: 指令}`` (answered as if the resident had typed the command).
"""

from __future__ import annotations

import logging
from dataclasses import replace

from bot.catalog import stored
from bot.handlers.router import Router
from bot.handlers.types import Context, Incoming, Reply, TextReply

log = logging.getLogger("bot.handlers")

router = Router("menu")


@router.kind("click")
async def click(message: Incoming, ctx: Context) -> Reply | None:
    reply = (await stored.click_replies()).get(message.text)
    if reply is None:
        log.warning("unknown menu key", extra={"key": message.text[:64]})
        return TextReply("该菜单暂未开通，发送“帮助”查看可用功能。")
    if isinstance(reply, dict):
        typed = reply.get("command") or reply.get("search") or ""
        as_text = replace(message, kind="text", text=str(typed))
        assert ctx.dispatch is not None  # set by bot.handlers.handle
        _, answer = await ctx.dispatch(as_text, replace(ctx, message=as_text))
        return answer
    return TextReply(str(reply))
