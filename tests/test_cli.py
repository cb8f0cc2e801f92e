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


async def test_serve_listens_where_told_and_links_follow(tmp_path: Path) -> None:
    import asyncio

    import aiohttp

    from tests.processes import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLICYBOT_")}
    env["POLICYBOT_CONTENT_DIR"] = str(CONTENT)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--role", "web", "--host", "127.0.0.1",
         "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(600):
                try:
                    async with http.get(base + "/healthz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)
            else:
                raise AssertionError("serve --port did not answer")
            async with http.get(base + "/api/v1/search", params={"q": "低保"}) as resp:
                urls = [r["url"] for r in (await resp.json())["results"]]
            async with http.get(base + "/") as resp:
                assert resp.status == 200 and "政策在线" in await resp.text()
        assert urls and all(u.startswith(base + "/") for u in urls)  # base_url follows --port
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
    assert f"监听 127.0.0.1:{port}" in err.decode() and f"对外地址 {base}" in err.decode()


def test_serve_refuses_a_bad_port(tmp_path: Path) -> None:
    result = policybot("serve", "--port", "70000", cwd=tmp_path)
    assert result.returncode == 2 and "端口" in result.stderr
