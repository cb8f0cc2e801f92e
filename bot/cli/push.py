"""``policybot push …`` and ``policybot followers sync``.

The push commands are a thin client of the admin API over HTTP, with a
bearer token from the ``ADMIN_API_TOKEN`` environment variable or a file
(``--token-file``), never from the command line, where every user of the
machine can read it (``ps``, shell history):
the role checks (an editor writes, another person approves), the audit trail
and the rules stay in one place, and the CLI works against a remote server
as well as a local one. ``followers sync`` talks to WeChat directly, as the
worker does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

import aiohttp

from bot.cli.common import settings_from

TOKEN_ENV = "ADMIN_API_TOKEN"  # not POLICYBOT_*: those are configuration overrides
DONE_STATES = {"done", "cancelled", "failed"}


def add_parser(subparsers: Any) -> None:
    push = subparsers.add_parser("push", help="推送任务：创建、查看、审核、取消（通过管理接口）")
    push.add_argument("--url", help="服务地址（默认 server.base_url）")
    push.add_argument(
        "--token-file",
        help=f"存放管理接口令牌的文件（默认读取环境变量 {TOKEN_ENV}）；令牌不要写在命令行上",
    )
    ops = push.add_subparsers(dest="push_command", required=True)

    create = ops.add_parser("create", help="创建推送草稿")
    create.add_argument("--title", required=True)
    create.add_argument("--text", default="")
    create.add_argument("--policy", dest="policy_id")
    create.add_argument("--interpretation", dest="interpretation_id")
    create.add_argument("--channel", choices=["template", "mass", "customer"], default="template")
    create.add_argument(
        "--topic", dest="topics", action="append", default=[], help="主题（可重复）"
    )
    create.add_argument(
        "--region", dest="regions", action="append", default=[], help="镇街（可重复）"
    )
    create.add_argument("--everyone", action="store_true", help="推送给全部关注者")
    create.add_argument("--send-at", help="发送时间（ISO 8601，默认立即；不带时区按服务器时区）")
    create.add_argument("--cron", help="周期规则（crontab 五段式，服务器时区）")
    create.add_argument("--template-id")

    listing = ops.add_parser("list", help="列出推送任务")
    listing.add_argument("--state")

    show = ops.add_parser("show", help="查看推送任务及发送统计")
    show.add_argument("id", type=int)
    show.add_argument("--report", action="store_true", help="含错误码统计与失败名单")
    show.add_argument("--wait", action="store_true", help="显示进度，直到发送结束")

    for name, helptext in (
        ("approve", "审核通过（需审核人令牌，且不能是创建人）"),
        ("cancel", "取消推送"),
        ("retry-failed", "重试发送失败的记录"),
        ("send-to-new", "补发给发送后新订阅的居民"),
    ):
        op = ops.add_parser(name, help=helptext)
        op.add_argument("id", type=int)

    test = ops.add_parser("test-send", help="测试发送到本人绑定的微信或已登记的测试人员")
    test.add_argument("id", type=int)
    test.add_argument("openids", nargs="*", help="测试人员的 openid 或姓名（默认：本人绑定的微信）")
    push.set_defaults(func=cmd_push)

    followers = subparsers.add_parser("followers", help="关注者")
    fops = followers.add_subparsers(dest="followers_command", required=True)
    sync = fops.add_parser("sync", help="从微信拉取关注者及其标签（可中断后继续，可重复运行）")
    sync.set_defaults(func=cmd_followers_sync)


# --- push -------------------------------------------------------------------------------


def cmd_push(args: argparse.Namespace) -> int:
    settings = settings_from(args, quiet=True)
    try:
        token = _token(args.token_file)
    except OSError as exc:
        print(f"无法读取令牌文件 {args.token_file}：{exc.strerror}", file=sys.stderr)
        return 2
    if not token:
        print(f"缺少管理接口令牌：设置环境变量 {TOKEN_ENV} 或使用 --token-file", file=sys.stderr)
        return 2
    base = (args.url or settings.server.base_url).rstrip("/")
    return asyncio.run(_push(args, base, token))


def _token(path: str | None) -> str:
    if path:
        with open(path, encoding="utf-8") as file:
            return file.read().strip()
    return os.environ.get(TOKEN_ENV, "").strip()


def _create_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {"title": args.title, "text": args.text, "channel": args.channel}
    for key in ("policy_id", "interpretation_id", "send_at", "cron", "template_id"):
        if getattr(args, key):
            body[key] = getattr(args, key)
    audience: dict[str, Any] = {}
    if args.topics:
        audience["topics"] = args.topics
    if args.regions:
        audience["regions"] = args.regions
    if args.everyone:
        audience["everyone"] = True
    body["audience"] = audience
    return body


async def _push(args: argparse.Namespace, base: str, token: str) -> int:
    api = f"{base}/api/v1/admin"
    headers = {"Authorization": f"Bearer {token}"}
    op = args.push_command
    async with aiohttp.ClientSession(
        headers=headers, timeout=aiohttp.ClientTimeout(total=30)
    ) as http:
        try:
            if op == "create":
                status, data = await _call(http, "POST", f"{api}/campaigns", _create_body(args))
            elif op == "list":
                params = {"state": args.state} if args.state else None
                status, data = await _call(http, "GET", f"{api}/campaigns", params=params)
            elif op == "show":
                path = f"{api}/campaigns/{args.id}" + ("/report" if args.report else "")
                status, data = await _call(http, "GET", path)
                if status == 200 and args.wait:
                    status, data = await _wait(http, path, data)
            elif op == "test-send":
                status, data = await _call(
                    http,
                    "POST",
                    f"{api}/campaigns/{args.id}/test-send",
                    {"openids": args.openids or None},
                )
            else:
                status, data = await _call(http, "POST", f"{api}/campaigns/{args.id}/{op}")
        except aiohttp.ClientError as exc:
            print(f"无法连接管理接口 {base}：{type(exc).__name__}", file=sys.stderr)
            return 1
    if status >= 400:
        error = data.get("error", {}) if isinstance(data, dict) else {}
        print(f"失败（HTTP {status}）：{error.get('message') or data}", file=sys.stderr)
        return 1
    print(json.dumps(data, ensure_ascii=False, indent=2))
    if isinstance(data, dict) and data.get("warning"):
        print(f"注意：{data['warning']}", file=sys.stderr)
    return 0


async def _call(http: aiohttp.ClientSession, method: str, url: str, body: Any = None,
                params: dict[str, str] | None = None) -> tuple[int, Any]:  # fmt: skip
    async with http.request(method, url, json=body, params=params) as resp:
        try:
            return resp.status, await resp.json(content_type=None)
        except ValueError:
            return resp.status, {"error": {"message": (await resp.text())[:200]}}


async def _wait(http: aiohttp.ClientSession, url: str, data: dict[str, Any]) -> tuple[int, Any]:
    """Poll until the campaign is done, showing the counts on one terminal line."""
    status = 200
    while data.get("state") not in DONE_STATES:
        counts = data.get("counts", {})
        line = (
            f"\r{data.get('state')}: 已发送 {counts.get('sent', 0)} / 共 {data.get('audience_count', 0)}，"
            f"待发 {counts.get('pending', 0)}，失败 {counts.get('failed', 0)}，跳过 {counts.get('skipped', 0)}"
        )
        if sys.stderr.isatty():
            print(line, end="", file=sys.stderr, flush=True)
        await asyncio.sleep(1)
        status, data = await _call(http, "GET", url)
        if status != 200:
            break
    if sys.stderr.isatty():
        print(file=sys.stderr)
    return status, data


# --- followers sync ---------------------------------------------------------------------


def cmd_followers_sync(args: argparse.Namespace) -> int:
    settings = settings_from(args, quiet=True)
    if settings.wechat.demo:
        print("未配置公众号（wechat.appid），无法同步关注者", file=sys.stderr)
        return 2
    return asyncio.run(_followers_sync(settings))


async def _followers_sync(settings: Any) -> int:
    from bot.push.followers import sync_followers
    from bot.services import open_services
    from bot.wechat.errors import WeChatError

    tty = sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if tty:
            print(f"\r同步关注者：{done}/{total}", end="", file=sys.stderr, flush=True)

    async with open_services(settings) as services:
        try:
            report = await sync_followers(services.api, progress)
        except WeChatError as exc:
            if tty:
                print(file=sys.stderr)
            print(
                f"同步中断（微信错误 {exc.code}：{exc.message}）；再次运行将从中断处继续",
                file=sys.stderr,
            )
            return 1
    if tty:
        print(file=sys.stderr)
    print(report.summary())
    return 0
