"""``policybot menu push`` / ``menu show``: ``content/menu.yaml`` to WeChat's menu API.

``push`` checks the menu against WeChat's limits (``bot.wechat.menu``) and
sends nothing when any is broken, naming each breach; ``show`` prints what
WeChat has now.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bot.cli.common import run, settings_from
from bot.config import Settings


def cmd_menu_push(args: argparse.Namespace) -> int:
    settings = settings_from(args, quiet=True)
    return run(_push(settings, args.dir or settings.content.dir, args.dry_run))


def cmd_menu_show(args: argparse.Namespace) -> int:
    return run(_show(settings_from(args, quiet=True)))


async def _push(settings: Settings, content_dir: Path, dry_run: bool) -> int:
    from bot.catalog.loader import load_menu
    from bot.wechat.menu import menu_problems, wechat_menu

    menu, problems = load_menu(content_dir)
    for problem in problems:
        print(problem, file=sys.stderr)
    if menu is None:
        print("menu.yaml 有错误或不存在，未推送菜单。", file=sys.stderr)
        return 1
    body = wechat_menu(menu, settings.server.base_url)
    breaches = menu_problems(body)
    for breach in breaches:
        print(f"{content_dir}/menu.yaml: {breach}", file=sys.stderr)
    if breaches:
        print("菜单不符合微信的限制，未推送。", file=sys.stderr)
        return 1
    if dry_run:
        print(json.dumps(body, ensure_ascii=False, indent=2))
        return 0
    return await _call(settings, "create_menu", body)


async def _show(settings: Settings) -> int:
    return await _call(settings, "get_menu")


async def _call(settings: Settings, method: str, *args: Any) -> int:
    from bot.services import open_services
    from bot.wechat.errors import WeChatError

    async with open_services(settings) as services:
        try:
            answer = await getattr(services.api, method)(*args)
        except WeChatError as exc:
            hint = {46003: "公众号目前没有自定义菜单", 48001: "公众号没有菜单接口权限"}
            print(f"微信拒绝（{exc.code}）：{hint.get(exc.code, exc)}", file=sys.stderr)
            return 1
    if method == "create_menu":
        buttons = len(args[0]["button"])
        print(f"已推送菜单：{buttons} 个一级菜单。微信客户端约 5 分钟内更新，重新关注可立即看到。")
    else:
        print(json.dumps(answer.get("menu", answer), ensure_ascii=False, indent=2))
    return 0


def add_parser(subparsers: Any) -> None:
    menu = subparsers.add_parser("menu", help="公众号自定义菜单")
    sub = menu.add_subparsers(dest="menu_command", required=True)
    push = sub.add_parser("push", help="检查 content/menu.yaml 并推送到微信")
    push.add_argument(
        "dir", nargs="?", type=Path, default=None, help="内容目录（默认 content.dir）"
    )
    push.add_argument("--dry-run", action="store_true", help="只检查并打印将推送的菜单")
    push.set_defaults(func=cmd_menu_push)
    show = sub.add_parser("show", help="显示微信上当前的菜单")
    show.set_defaults(func=cmd_menu_show)
