"""``policybot``: the command line, one module per command, registered here.

Each module has ``add_parser(subparsers)``; this package only builds the parser
and turns a bad config into one clear line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.cli import ask, content, fake_sms, fake_wechat, menu, push, serve, users
from bot.config import ConfigError
from bot.db import StorageError

COMMANDS = (serve, ask, content, push, fake_wechat, menu, users, fake_sms)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="policybot", description="政策在线：政策发布、问答与精准推送"
    )
    parser.add_argument(
        "-c", "--config", type=Path, default=None, help="TOML 配置文件（默认 ./config.toml）"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"配置错误：{exc}", file=sys.stderr)
        return 2
    except StorageError as exc:
        print(f"存储错误：{exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
