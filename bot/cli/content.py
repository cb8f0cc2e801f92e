"""``policybot content check [DIR]`` and ``policybot content sync [DIR]``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path
from typing import Any

import bot.cli.export as export
from bot.catalog.loader import load_content
from bot.cli.common import settings_from


def add_parser(subparsers: Any) -> None:
    content = subparsers.add_parser("content", help="检查、导入 content/ 中的政策与解读")
    sub = content.add_subparsers(dest="content_command", required=True)
    check = sub.add_parser("check", help="检查内容文件，逐条列出问题（path:line: message）")
    check.add_argument("dir", nargs="?", type=Path, help="内容目录（默认配置项 content.dir）")
    check.set_defaults(func=cmd_check)
    sync = sub.add_parser("sync", help="把内容导入数据库（可重复运行；删除的文件会下线）")
    sync.add_argument("dir", nargs="?", type=Path, help="内容目录（默认配置项 content.dir）")
    sync.set_defaults(func=cmd_sync)
    export.add_parser(sub)


def _content_dir(args: argparse.Namespace) -> Path:
    if args.dir is not None:
        return Path(args.dir)
    return settings_from(args).content.dir


def cmd_check(args: argparse.Namespace) -> int:
    content = load_content(_content_dir(args))
    for problem in content.problems:
        print(problem)
    errors = len(content.errors)
    counts = (
        f"{len(content.policies)} 篇政策、{len(content.interpretations)} 篇解读、"
        f"{len(content.catalog)} 条目录事项、{len(content.documents.get('consultation', []))} 项征求意见"
    )
    if errors:
        files = len({p.path for p in content.errors})
        print(f"发现 {errors} 个问题（{files} 个文件）；可导入：{counts}", file=sys.stderr)
        return 1
    print(f"内容检查通过：{counts}", file=sys.stderr)
    return 0


class _Progress:
    """One updating line on a terminal; nothing when output is redirected."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.enabled and total:
            print(f"\r导入 {stage}: {done}/{total}", end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.enabled:
            print("\r\033[K", end="", file=sys.stderr, flush=True)


def cmd_sync(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    directory = Path(args.dir) if args.dir is not None else settings.content.dir
    return asyncio.run(_sync(directory, settings))


async def _sync(directory: Path, settings: Any) -> int:
    from bot import db
    from bot.catalog.sync import sync_content

    progress = _Progress()
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(db.database(settings.database.url))
        redis = None
        if settings.redis.url:  # to tell running processes' search indexes at once
            from redis.asyncio import Redis

            redis = Redis.from_url(settings.redis.url)
            stack.push_async_callback(redis.aclose)
        try:
            report = await sync_content(directory, settings, progress=progress, redis=redis)
        finally:
            progress.close()
    for problem in report.problems:
        print(problem)
    print(f"同步完成：{report.summary()}", file=sys.stderr)
    return 1 if report.errors else 0
