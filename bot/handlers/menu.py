"""Menu clicks answer as configured in ``content/menu.yaml``.

A click's ``reply`` is text, ``{search: 关键词}`` (answered like a query) or
``{command: 指令}`` (answered as if the resident had typed the command).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from bot.handlers.router import Router
from bot.handlers.types import Context, Incoming, Reply, TextReply

log = logging.getLogger("bot.handlers")

router = Router("menu")

_cache: dict[Path, tuple[float, dict[str, Any]]] = {}


def click_replies(content_dir: Path) -> dict[str, Any]:
    """Map each click key to its reply, re-read when menu.yaml changes."""
    path = content_dir / "menu.yaml"
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return {}
    cached = _cache.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    replies: dict[str, Any] = {}
    for button in data.get("button", []):
        for item in [button, *button.get("sub_button", [])]:
            if item.get("type") == "click" and item.get("key"):
                replies[str(item["key"])] = item.get("reply", "")
    _cache[path] = (mtime, replies)
    return replies


@router.kind("click")
async def click(message: Incoming, ctx: Context) -> Reply | None:
    from bot.handlers import dispatcher

    reply = click_replies(ctx.settings.content.dir).get(message.text)
    if reply is None:
        log.warning("unknown menu key", extra={"key": message.text[:64]})
        return TextReply("该菜单暂未开通，发送“帮助”查看可用功能。")
    if isinstance(reply, dict):
        typed = reply.get("command") or reply.get("search") or ""
        as_text = replace(message, kind="text", text=str(typed))
        _, answer = await dispatcher().dispatch(as_text, replace(ctx, message=as_text))
        return answer
    return TextReply(str(reply))
