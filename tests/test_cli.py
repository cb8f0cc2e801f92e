"""The command line as an operator uses it, in a fresh working folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import CONTENT


def policybot(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLICYBOT_")}
    env["POLICYBOT_CONTENT_DIR"] = str(CONTENT)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_ask_runs_the_resident_pipeline_on_the_embedded_default(tmp_path: Path) -> None:
    result = policybot("ask", "帮助", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "订阅" in result.stdout and "留言" in result.stdout
    assert (
        tmp_path / "data" / "policybot.sqlite3"
    ).exists()  # the embedded default, created on demand

    feedback = policybot("ask", "留言 村口路灯坏了", "--user", "o-cli", cwd=tmp_path)
    assert "已收到" in feedback.stdout


def test_ask_leaves_no_resident_behind(tmp_path: Path) -> None:
    import sqlite3

    for text in ("订阅 救助", "地区 城关镇", "留言 村口路灯坏了", "低保怎么申请"):
        result = policybot("ask", text, "--user", "o-cli", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "未保存" in result.stderr
    assert "已订阅" in policybot("ask", "订阅 救助", cwd=tmp_path).stdout  # the reply is real
    with sqlite3.connect(tmp_path / "data" / "policybot.sqlite3") as db:
        for table in ("subscriber", "subscription", "feedback", "more_results"):
            assert db.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,), table
        assert db.execute("SELECT count(*) FROM policy").fetchone()[0] > 0  # content was synced
