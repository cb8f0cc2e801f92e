"""WeChat's rules for a custom menu (自定义菜单), checked before ``menu/create``.

The limits are WeChat's: at most 3 buttons, each either an action or up to 5
sub-buttons; names at most 16 bytes (buttons) or 60 bytes (sub-buttons) of
UTF-8; keys 128 bytes, URLs 1024 bytes. Each breach carries the error code
WeChat answers with, so ``policybot menu push`` can refuse before the call and
the stand-in (``bot.wechat.fake``) refuses exactly as WeChat does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_BUTTONS = 3
MAX_SUB_BUTTONS = 5
NAME_BYTES = {True: 16, False: 60}  # top level, sub-button
KEY_BYTES = 128
URL_BYTES = 1024
TYPES = {
    "click", "view", "scancode_push", "scancode_waitmsg", "pic_sysphoto",
    "pic_photo_or_album", "pic_weixin", "location_select", "miniprogram",
    "media_id", "article_id", "article_view_limited",
}  # fmt: skip
NEEDS_KEY = {"click", "scancode_push", "scancode_waitmsg", "pic_sysphoto",
             "pic_photo_or_album", "pic_weixin", "location_select"}  # fmt: skip
NEEDS_URL = {"view", "miniprogram"}
FIELDS = ("type", "name", "key", "url", "appid", "pagepath", "media_id", "article_id")

# WeChat's codes: (top level, sub-button).
CODES = {
    "size": (40016, 40023),
    "type": (40017, 40024),
    "name": (40018, 40025),
    "key": (40019, 40026),
    "url": (40020, 40027),
}


@dataclass(frozen=True)
class MenuProblem:
    code: int  # what WeChat answers
    where: str  # e.g. "第 2 个一级菜单“我的订阅”的第 3 个子菜单"
    message: str  # in Chinese, for the operator

    def __str__(self) -> str:
        return f"{self.where}：{self.message}（微信错误码 {self.code}）"


def _bytes(value: Any) -> int:
    return len(str(value).encode("utf-8"))


def menu_problems(menu: Any) -> list[MenuProblem]:
    """Every breach of WeChat's limits in ``{"button": [...]}``, first one first."""
    buttons = menu.get("button") if isinstance(menu, dict) else None
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= MAX_BUTTONS:
        count = len(buttons) if isinstance(buttons, list) else 0
        return [MenuProblem(40016, "菜单", f"一级菜单应有 1 至 {MAX_BUTTONS} 个，现有 {count} 个")]
    problems: list[MenuProblem] = []
    for i, button in enumerate(buttons, start=1):
        where = f"第 {i} 个一级菜单"
        if isinstance(button, dict) and button.get("name"):
            where += f"“{button['name']}”"
        problems += _item_problems(button, where, top=True)
        subs = button.get("sub_button") if isinstance(button, dict) else None
        if subs is None or (subs == [] and button.get("type")):
            continue
        if not isinstance(subs, list) or not 1 <= len(subs) <= MAX_SUB_BUTTONS:
            count = len(subs) if isinstance(subs, list) else 0
            problems.append(
                MenuProblem(40023, where, f"子菜单应有 1 至 {MAX_SUB_BUTTONS} 个，现有 {count} 个")
            )
            continue
        for j, sub in enumerate(subs, start=1):
            sub_where = f"{where}的第 {j} 个子菜单"
            if isinstance(sub, dict) and sub.get("name"):
                sub_where += f"“{sub['name']}”"
            problems += _item_problems(sub, sub_where, top=False)
    return problems


def _item_problems(item: Any, where: str, *, top: bool) -> list[MenuProblem]:
    level = 0 if top else 1

    def problem(kind: str, message: str) -> MenuProblem:
        return MenuProblem(CODES[kind][level], where, message)

    if not isinstance(item, dict):
        return [problem("type", "菜单项应为对象")]
    out = []
    name = item.get("name")
    limit = NAME_BYTES[top]
    if not isinstance(name, str) or not name.strip():
        out.append(problem("name", "缺少名称 name"))
    elif _bytes(name) > limit:
        out.append(
            problem("name", f"名称“{name}”有 {_bytes(name)} 字节，最多 {limit} 字节"
                            f"（约 {limit // 3} 个汉字）")
        )  # fmt: skip
    if top and item.get("sub_button"):
        return out  # a button with sub-buttons has no action of its own
    kind = item.get("type")
    if kind not in TYPES:
        return [*out, problem("type", f"类型 type“{kind}”不是微信菜单类型")]
    key = item.get("key")
    if kind in NEEDS_KEY and (not isinstance(key, str) or not key):
        out.append(problem("key", f"{kind} 菜单缺少 key"))
    elif key is not None and _bytes(key) > KEY_BYTES:
        out.append(problem("key", f"key 最多 {KEY_BYTES} 字节"))
    url = item.get("url")
    if kind in NEEDS_URL and (not isinstance(url, str) or not url):
        out.append(problem("url", f"{kind} 菜单缺少 url"))
    elif url is not None and _bytes(url) > URL_BYTES:
        out.append(problem("url", f"url 最多 {URL_BYTES} 字节"))
    return out


def wechat_menu(menu: dict[str, Any], base_url: str) -> dict[str, Any]:
    """``content/menu.yaml`` as WeChat takes it: only WeChat's fields (our ``reply``
    stays with us), ``{base_url}`` in links replaced by the public address."""

    def item(raw: dict[str, Any]) -> dict[str, Any]:
        out = {k: raw[k] for k in FIELDS if raw.get(k) not in (None, "")}
        if isinstance(out.get("url"), str):
            out["url"] = out["url"].replace("{base_url}", base_url.rstrip("/"))
        if raw.get("sub_button"):
            out.pop("type", None)
            out["sub_button"] = [item(sub) for sub in raw["sub_button"]]
        return out

    return {"button": [item(b) for b in menu.get("button", [])]}
