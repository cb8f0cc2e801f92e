"""Crash safety of a mixed push, for real: a WeChat template campaign to 5,000
residents and an SMS campaign to the 1,000 of them who gave a phone run in
one ``policybot serve --role worker``, which is killed with SIGKILL while both
are sending, then started again.

WeChat: nobody is missed and nobody gets it twice (``client_msg_id``).
SMS: nobody is missed; Tencent has no de-duplication id, so a message the
provider accepted but we had not recorded when killed is sent again. The
engine writes each SMS acknowledgement before that sender takes its next
job, so at most ``push.workers`` (8) are unrecorded at any instant: the
repeats are bounded by that. The test measures them and holds them to it. (The stand-in's 30-second per-number limit is off here: it would
hide a quick repeat behind LimitExceeded, which is not the point.)
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiohttp
from cryptography.fernet import Fernet

from bot import db, privacy
from bot.catalog.models import Topic
from bot.config import Settings
from bot.contacts import record
from bot.push import campaigns
from bot.push.campaigns import Actor
from bot.push.models import Campaign, CampaignState
from bot.sms.fake import FakeSmsConfig, serve_fake_sms
from tests.processes import free_port
from tests.push.conftest import add_residents, fake_ids
from tests.push.test_crash import APPID, SECRET, _spawn, _state, _until, worker_config

RESIDENTS, PHONES = 5000, 1000
SMS_RATE, WORKERS = 200, 8
KEY = Fernet.generate_key().decode()


def _phone(i: int) -> str:
    return f"139{i:08d}"


async def _seed(url: str, settings: Settings) -> tuple[int, int]:
    privacy.configure(settings.privacy)
    async with db.database(url):
        await Topic.create(id="relief", name="救助")
        ids = fake_ids(1, RESIDENTS)
        await add_residents(ids, ["relief"])
        for i in range(1, PHONES + 1):
            await record(ids[i - 1], phone=_phone(i), source="staff")
        made = []
        for channel in ("template", "sms"):
            campaign = await campaigns.create(
                {"title": "低保标准提高", "text": "城乡低保标准提高。", "channel": channel,
                 "audience": {"topics": ["relief"]}}, Actor("小王", "editor"), settings)  # fmt: skip
            await campaigns.approve(campaign.id, Actor("老张", "reviewer"))
            made.append(campaign.id)
        return made[0], made[1]


async def test_sigkill_mid_mixed_push_loses_none_and_bounds_sms_repeats(
    db_url: str, tmp_path: Path
) -> None:
    port = free_port()
    fake_url = f"http://127.0.0.1:{port}/"
    runner, sms = await serve_fake_sms(free_port(), FakeSmsConfig(interval=0))
    cfg = sms.config
    sms_section = {"secret_id": cfg.secret_id, "secret_key": cfg.secret_key,
                   "sdk_app_id": cfg.sdk_app_id, "sign_name": cfg.sign_names[0],
                   "template_id": "100001", "endpoint": sms.url,
                   "rate_per_second": SMS_RATE}  # fmt: skip
    lines = "\n".join(f"{k} = {v!r}".replace("'", '"') for k, v in sms_section.items())
    extra = f"""[sms]
{lines}
[privacy]
key = "{KEY}"
"""
    config = worker_config(tmp_path, db_url, fake_url, WORKERS, extra)
    settings = Settings.model_validate({
        "database": {"url": db_url}, "wechat": {"template_id": "tmpl-crash"}, "sms": sms_section,
        "privacy": {"key": KEY},
    })  # fmt: skip
    fake = _spawn("fake-wechat", "--port", str(port), "--appid", APPID, "--secret", SECRET,
                  "--followers", str(RESIDENTS), "--error-rate", "0.01", cwd=tmp_path)  # fmt: skip
    worker = None
    try:
        wechat_id, sms_id = await _seed(db_url, settings)
        async with aiohttp.ClientSession() as http:
            await _until(lambda: _state(http, fake_url), 20, "the stand-in")
            worker = _spawn("-c", str(config), "serve", "--role", "worker", cwd=tmp_path)

            async def both_sending() -> bool:
                wechat = (await _state(http, fake_url))["total_delivered"]
                return wechat >= 1500 and sms.total_accepted >= 200

            await _until(both_sending, 40, "both campaigns sending", worker)
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            at_kill_wechat = (await _state(http, fake_url))["total_delivered"]
            at_kill_sms = sms.total_accepted
            assert at_kill_sms < PHONES and at_kill_wechat < RESIDENTS, "killed too late"

            worker = _spawn("-c", str(config), "serve", "--role", "worker", cwd=tmp_path)

            async def all_served() -> bool:
                wechat = (await _state(http, fake_url))["total_delivered"]
                return wechat >= RESIDENTS and len(sms.accepted) >= PHONES

            await _until(all_served, 60, "every resident served", worker)
            async with db.database(db_url):

                async def both_done() -> list[Campaign] | None:
                    done = [await Campaign.get(id=i) for i in (wechat_id, sms_id)]
                    finished = all(c.state == CampaignState.done for c in done)
                    return done if finished else None

                wechat_campaign, sms_campaign = await _until(both_done, 30, "both done", worker)
                wechat_counts = await campaigns.counts(wechat_campaign)
                sms_counts = await campaigns.counts(sms_campaign)
            final = await _state(http, fake_url)
    finally:
        for proc in (worker, fake):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=10)
        await runner.cleanup()
        await asyncio.sleep(0)

    bound = WORKERS  # one acknowledged, unrecorded SMS per sender at most
    print(
        f"\nmixed crash test [{db_url.split(':')[0]}]: killed at wechat={at_kill_wechat} "
        f"sms={at_kill_sms}; wechat delivered={final['total_delivered']} "
        f"duplicates={final['duplicates']}; sms accepted={sms.total_accepted} "
        f"phones={len(sms.accepted)} repeats={sms.duplicates} (bound {bound}); "
        f"db wechat={wechat_counts} sms={sms_counts}"
    )
    assert wechat_counts == {"pending": 0, "sent": RESIDENTS, "failed": 0, "skipped": 0}
    assert final["total_delivered"] == RESIDENTS and final["duplicates"] == 0
    assert sms_counts == {"pending": 0, "sent": PHONES, "failed": 0,
                          "skipped": RESIDENTS - PHONES}  # fmt: skip
    assert sorted(sms.accepted) == sorted(f"+86{_phone(i)}" for i in range(1, PHONES + 1))
    assert sms.duplicates <= bound
    assert sms.total_accepted == PHONES + sms.duplicates
