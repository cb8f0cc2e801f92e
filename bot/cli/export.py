"""``policybot content export DIR``: what the console made, as content files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bot.cli.common import run, settings_from


def add_parser(content_subparsers: Any) -> None:
    """Registered under ``content`` (beside ``check`` and ``sync``)."""
    export = content_subparsers.add_parser(
        "export", help="把管理后台发布的政策与解读导出为内容文件（content 格式）"
    )
    export.add_argument("dir", type=Path, help="导出目录")
    export.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    settings = settings_from(args, quiet=True)
    return run(_export(Path(args.dir), settings))


async def _export(directory: Path, settings: Any) -> int:
    from bot import db
    from bot.catalog.export import export_content

    async with db.database(settings.database.url):
        report = await export_content(directory, settings.content.dir, settings.attachments.dir)
    for name in report.missing_attachments:
        print(f"{directory}/attachments/{name}: 附件文件不存在，未导出", file=sys.stderr)
    print(
        f"导出完成：{len(report.policies)} 篇政策、{len(report.interpretations)} 篇解读、"
        f"{len(report.attachments)} 个附件 → {directory}",
        file=sys.stderr,
    )
    return 1 if report.missing_attachments else 0
