"""Crash safety, for real: ``policybot serve --role worker`` is killed with
SIGKILL in the middle of a 5,000-resident push against ``policybot
fake-wechat`` (1% of calls answered -1, tokens living seconds), started
again, and the push completes with every resident served exactly once.

The stand-in counts what it accepted per openid. A message WeChat accepted
but we had not yet recorded when killed is sent again after the restart with
the same ``client_msg_id``, which WeChat (and the stand-in) drop within 10
minutes: the count stays exactly one.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from bot import db
from bot.catalog.models import Topic
from bot.config import Settings
from bot.push import campaigns
from bot.push.campaigns import Actor
from bot.push.models import Campaign, CampaignState
from tests.conftest import ROOT
from tests.processes import free_port
from tests.push.conftest import add_residents, fake_ids

RESIDENTS = 5000
KILL_AFTER = 1500
APPID, SECRET = "wxcrashtest000001", "crash-secret"


def _spawn(*args: str, cwd: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLICYBOT_")}
    return subprocess.Popen([sys.executable, "-m", "bot", *args], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip


async def _state(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with http.get(url + "_fake/state") as resp:
        return await resp.json()


async def _until(
    check: Any, timeout: float, what: str, proc: subprocess.Popen[bytes] | None = None
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = await check()
        except aiohttp.ClientError:
            value = None
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(
                f"worker exited early: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}"
            )
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def _seed(url: str, settings: Settings) -> int:
    async with db.database(url):
        await Topic.create(id="relief", name="救助")
        await add_residents(fake_ids(1, RESIDENTS), ["relief"])
        campaign = await campaigns.create(
            {"title": "低保标准提高", "text": "城乡低保标准提高。", "channel": "template",
             "audience": {"topics": ["relief"]}}, Actor("小王", "editor"), settings)  # fmt: skip
        await campaigns.approve(campaign.id, Actor("老张", "reviewer"))
        return campaign.id


def worker_config(
    tmp_path: Path, db_url: str, fake_url: str, workers: int = 8, extra: str = ""
) -> Path:
    """The config file of a real worker process sending through the WeChat stand-in."""
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[database]
url = "{db_url}"
[wechat]
appid = "{APPID}"
secret = "{SECRET}"
api_base_url = "{fake_url}"
template_id = "tmpl-crash"
[content]
dir = "{ROOT / "content"}"
sync_on_start = false
[push]
rate_per_second = 1000
quiet_hours = ""
workers = {workers}
max_attempts = 8
{extra}[log]
level = "WARNING"
""",
        encoding="utf-8",
    )
    return config


async def test_sigkill_mid_push_loses_none_and_repeats_none(db_url: str, tmp_path: Path) -> None:
    port = free_port()
    fake_url = f"http://127.0.0.1:{port}/"
    config = worker_config(tmp_path, db_url, fake_url)
    settings = Settings.model_validate({
        "database": {"url": db_url}, "wechat": {"template_id": "tmpl-crash"},
    })  # fmt: skip
    fake = _spawn(
        "fake-wechat",
        "--port",
        str(port),
        "--appid",
        APPID,
        "--secret",
        SECRET,
        "--followers",
        str(RESIDENTS),
        "--error-rate",
        "0.01",
        "--token-ttl",
        "4",
        cwd=tmp_path,
    )
    worker = None
    try:
        campaign_id = await _seed(db_url, settings)
        async with aiohttp.ClientSession() as http:
            await _until(lambda: _state(http, fake_url), 20, "the stand-in")
            worker = _spawn("-c", str(config), "serve", "--role", "worker", cwd=tmp_path)

            async def past_kill_point() -> bool:
                return (await _state(http, fake_url))["total_delivered"] >= KILL_AFTER

            await _until(past_kill_point, 30, f"{KILL_AFTER} deliveries", worker)
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            at_kill = await _state(http, fake_url)
            assert at_kill["total_delivered"] < RESIDENTS, "killed too late to prove anything"

            worker = _spawn("-c", str(config), "serve", "--role", "worker", cwd=tmp_path)

            async def halfway() -> bool:
                return (await _state(http, fake_url))["total_delivered"] >= 3000

            await _until(halfway, 30, "3000 deliveries", worker)
            async with http.post(fake_url + "_fake/config", json={"expire_tokens": True}) as resp:
                assert resp.status == 200  # every token dies at once: 42001, refresh, retry

            async def all_delivered() -> dict[str, Any] | None:
                state = await _state(http, fake_url)
                return state if state["total_delivered"] >= RESIDENTS else None

            await _until(all_delivered, 40, "every resident served", worker)

            async with db.database(db_url):

                async def campaign_done() -> Campaign | None:
                    c = await Campaign.get(id=campaign_id)
                    return c if c.state in (CampaignState.done, CampaignState.failed) else None

                campaign = await _until(campaign_done, 20, "the campaign to finish", worker)
                counts = await campaigns.counts(campaign)
            final = await _state(http, fake_url)
    finally:
        for proc in (worker, fake):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=10)

    delivered = final["delivered"]
    print(
        f"\ncrash test [{db_url.split(':')[0]}]: killed at {at_kill['total_delivered']} delivered; "
        f"after restart delivered={final['total_delivered']} unique={len(delivered)} "
        f"duplicates={final['duplicates']} absorbed_by_client_msg_id={final['deduplicated']} "
        f"busy_answers={final['errors'].get('-1', 0)} token_expiries={final['errors'].get('42001', 0)} "
        f"token_calls={final['token_calls']} db={counts}"
    )
    assert campaign.state == CampaignState.done
    assert counts == {"pending": 0, "sent": RESIDENTS, "failed": 0, "skipped": 0}
    assert len(delivered) == RESIDENTS and set(delivered.values()) == {
        1
    }  # no one missed, no one twice
    assert final["total_delivered"] == RESIDENTS and final["duplicates"] == 0
    assert final["errors"].get("-1", 0) > 0  # the transient errors really happened and were retried
    assert final["errors"].get("42001", 0) > 0  # so did expired tokens
