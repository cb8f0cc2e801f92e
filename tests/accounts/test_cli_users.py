"""``policybot users``: the first admin from a pipe, then list, disable, enable, reset."""

from __future__ import annotations

import subprocess
import sys

from bot import db
from bot.accounts import services as accounts
from bot.accounts.lockout import Lockout
from bot.config import Settings
from tests.conftest import make_settings
from tests.processes import ROOT, settings_env


def _users(settings: Settings, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "users", *args], input=stdin, capture_output=True,
        text=True, cwd=ROOT, env=settings_env(settings), timeout=60,
    )  # fmt: skip


async def test_users_from_the_command_line(db_url: str) -> None:
    settings = make_settings(db_url, "http://127.0.0.1:9/")
    weak = _users(settings, "add", "admin", "--role", "admin", stdin="admin-password\n")
    assert weak.returncode == 1 and "至少三类" in weak.stderr
    made = _users(settings, "add", "管理员", "--role", "admin", stdin="Qingshan-Admin-1\n")
    assert made.returncode == 0, made.stderr
    assert "已创建账号 管理员" in made.stdout and "Qingshan-Admin-1" not in made.stdout
    publisher = _users(settings, "add", "刘发布", "--role", "publisher", stdin="Qingshan-Pub-22\n")
    assert publisher.returncode == 1 and "部门" in publisher.stderr
    publisher = _users(settings, "add", "刘发布", "--role", "publisher", "--department", "县民政局",
                       stdin="Qingshan-Pub-22\n")  # fmt: skip
    assert publisher.returncode == 0
    again = _users(settings, "add", "管理员", "--role", "editor", stdin="Qingshan-Admin-2\n")
    assert again.returncode == 1 and "已存在" in again.stderr

    listed = _users(settings, "list").stdout.splitlines()
    assert [line.split()[:3] for line in listed[1:]] == [
        ["刘发布", "publisher", "正常"], ["管理员", "admin", "正常"]
    ]  # fmt: skip
    assert "县民政局" in listed[1]
    assert _users(settings, "disable", "管理员").returncode == 1  # the last admin stays
    assert _users(settings, "disable", "刘发布").returncode == 0
    assert "已停用" in _users(settings, "list").stdout
    assert _users(settings, "enable", "刘发布").returncode == 0
    reset = _users(settings, "reset", "刘发布")
    temporary = reset.stdout.rsplit("：", 1)[1].strip()
    assert _users(settings, "reset", "没有这个人").returncode == 1

    async with db.database(settings.database.url):
        admin = await accounts.authenticate("管理员", "Qingshan-Admin-1", "local", Lockout())
        assert admin.role == "admin" and not admin.must_change_password
        reset_one = await accounts.authenticate("刘发布", temporary, "local", Lockout())
        assert reset_one.must_change_password
