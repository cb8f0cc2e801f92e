"""``policybot users``: the first admin from a pipe, then list, disable, enable, reset."""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
import time

import pytest

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


def _on_a_terminal(settings: Settings, first: str, second: str) -> tuple[int, str]:
    """``users add`` on a pseudo-terminal, answering each prompt as a person would.

    Each answer is typed only once its prompt shows: getpass flushes what was typed earlier.
    """
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "users", "add", "王审核", "--role", "reviewer"],
        stdin=slave, stdout=slave, stderr=slave, cwd=ROOT, env=settings_env(settings),
        start_new_session=True,
    )  # fmt: skip
    os.close(slave)
    output = b""
    answers = [("密码：".encode(), first), ("再次输入密码：".encode(), second)]
    deadline = time.monotonic() + 60
    with contextlib.suppress(OSError):  # EIO once the child has exited
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1)
            if not ready:
                continue
            chunk = os.read(master, 4096)
            if not chunk:
                break
            output += chunk
            if answers and output.endswith(answers[0][0]):
                os.write(master, (answers.pop(0)[1] + "\n").encode())
    os.close(master)
    return proc.wait(timeout=10), output.decode(errors="replace")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_terminal_asks_twice(db_url: str) -> None:
    settings = make_settings(db_url, "http://127.0.0.1:9/")
    code, output = _on_a_terminal(settings, "Shenhe-Office-01", "Shenhe-Office-02")
    assert code == 1 and "两次输入的密码不一致" in output and "再次输入密码" in output
    code, output = _on_a_terminal(settings, "Shenhe-Office-01", "Shenhe-Office-01")
    assert code == 0 and "已创建账号 王审核" in output
    assert "Shenhe-Office-01" not in output  # never echoed
