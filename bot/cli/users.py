"""``policybot users add|list|disable|enable|reset``: staff accounts from the server's shell.

The first admin is created here. A password is read from standard input,
never from an argument (arguments show in ``ps`` and shell history): twice
without echo on a terminal, one line from a pipe.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from bot import db
from bot.accounts import services as accounts
from bot.audit import Actor
from bot.cli.common import run, settings_from
from bot.config import Role
from bot.errors import DomainError


def add_parser(subparsers: Any) -> None:
    users = subparsers.add_parser("users", help="员工账号：新建、列出、停用、启用、重置密码")
    sub = users.add_subparsers(dest="users_command", required=True)
    add = sub.add_parser("add", help="新建账号（密码从标准输入读取）")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--department", default="", help="所属部门（发布机构），发布员必填")
    add.set_defaults(func=cmd_add)
    sub.add_parser("list", help="列出账号").set_defaults(func=cmd_list)
    for name, help_text in (("disable", "停用账号（其会话立即结束）"), ("enable", "重新启用账号"),
                            ("reset", "重置密码：显示一次临时密码，下次登录须修改")):  # fmt: skip
        op = sub.add_parser(name, help=help_text)
        op.add_argument("name")
        op.set_defaults(func=cmd_change)


def _actor() -> Actor:
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return Actor(f"cli:{who}"[:64], "system", "local")


def read_password(stdin: Any = None) -> str | None:
    """The password: asked twice on a terminal, one line from a pipe; None if they differ."""
    stdin = stdin or sys.stdin
    if stdin.isatty():
        first = getpass.getpass("密码：")
        return first if first == getpass.getpass("再次输入密码：") else None
    return stdin.readline().rstrip("\r\n")


def cmd_add(args: argparse.Namespace) -> int:
    password = read_password()
    if password is None:
        print("两次输入的密码不一致", file=sys.stderr)
        return 1
    return run(_in_db(args, lambda: _add(args, password)))


async def _add(args: argparse.Namespace, password: str) -> str:
    account = await accounts.create(args.name, args.role, password, _actor(),
                                    department=args.department, must_change=False)  # fmt: skip
    return f"已创建账号 {account.name}（{account.role}）"


def cmd_list(args: argparse.Namespace) -> int:
    return run(_in_db(args, _list))


async def _list() -> str:
    lines = [f"{'用户名':<16}{'角色':<11}{'状态':<8}部门"]
    for a in await accounts.list_accounts():
        state = "已停用" if a.disabled else "待改密" if a.must_change_password else "正常"
        lines.append(f"{a.name:<16}{a.role:<11}{state:<8}{a.department}")
    return "\n".join(lines)


def cmd_change(args: argparse.Namespace) -> int:
    return run(_in_db(args, lambda: _change(args)))


async def _change(args: argparse.Namespace) -> str:
    who, name = _actor(), args.name
    if args.users_command == "reset":
        temporary = await accounts.reset(name, who)
        return f"{name} 的临时密码（只显示这一次，下次登录须修改）：{temporary}"
    await accounts.set_disabled(name, args.users_command == "disable", who)
    return f"已{'停用' if args.users_command == 'disable' else '启用'} {name}"


async def _in_db(args: argparse.Namespace, work: Any) -> int:
    settings = settings_from(args, quiet=True)
    async with db.database(settings.database.url):
        try:
            print(await work())
        except DomainError as exc:
            print(exc.message, file=sys.stderr)
            return 1
    return 0
