"""The operator's commands: ``policybot followers sync`` (resumable, safe to
repeat) and ``policybot push …`` as a client of the admin API."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.catalog.models import Topic
from bot.cli import main
from bot.models import Subscriber, Subscription
from bot.push.followers import CURSOR, sync_followers
from bot.push.models import Campaign, PushCursor
from bot.services import Services
from bot.wechat.errors import WeChatError
from bot.wechat.fake import FakeWeChat
from tests.conftest import APPID, SECRET


async def test_followers_sync_maps_tags_to_topics_resumes_and_repeats_safely(
    services: Services, fake_wechat: FakeWeChat
) -> None:
    fake_wechat.configure(
        tags=["救助", "村干部"], user_page_size=7,
        follower_tags={"o-fake-000001": [100], "o-fake-000002": [100, 101], "o-fake-000009": [101]},
        daily_quota={"user/info/batchget": 2},  # WeChat's quota runs out on the third page
    )  # fmt: skip
    with pytest.raises(WeChatError):
        await sync_followers(services.api)
    cursor = await PushCursor.get(name=CURSOR)
    assert cursor.done == 14 and cursor.value == "o-fake-000014"
    assert await Subscriber.all().count() == 14

    fake_wechat.configure(daily_quota={})
    seen: list[tuple[int, int]] = []
    report = await sync_followers(services.api, lambda done, total: seen.append((done, total)))
    assert report.resumed_from == "o-fake-000014" and report.created == 6
    assert seen[-1] == (20, 20)  # progress counts on from where it stopped
    assert not await PushCursor.exists(name=CURSOR)

    again = await sync_followers(services.api)
    assert again.created == 0 and again.subscriptions == 0 and again.seen == 20
    assert await Subscriber.filter(following=True).count() == 20
    # The tag named like the topic 救助 is adopted; its members are subscribed.
    assert (await Topic.get(id="relief")).wechat_tag_id == 100
    subscribed = await Subscription.filter(topic_id="relief").values_list(
        "subscriber_id", flat=True
    )
    assert sorted(subscribed) == ["o-fake-000001", "o-fake-000002"]
    assert (await Subscriber.get(openid="o-fake-000002")).wechat_tags == [100, 101]


async def test_push_commands_drive_the_admin_api(
    api: TestClient, services: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "{services.settings.database.url}"\n'
        f'[wechat]\nappid = "{APPID}"\nsecret = "{SECRET}"\n',
        encoding="utf-8",
    )
    url = str(api.make_url("")).rstrip("/")

    async def policybot(
        *args: str, token: str = "editor-token-7f3a9c2e5b8d1f4a"
    ) -> tuple[int, Any]:
        token_file = tmp_path / "token"
        token_file.write_text(token + "\n", encoding="utf-8")
        code = await asyncio.to_thread(
            main, ["-c", str(config), "push", "--url", url, "--token-file", str(token_file), *args]
        )
        out = capsys.readouterr()
        return code, (json.loads(out.out) if code == 0 else out.err)

    code, created = await policybot(
        "create",
        "--title",
        "医保缴费提醒",
        "--text",
        "12 月 31 日截止",
        "--topic",
        "救助",
        "--region",
        "城关镇",
    )
    assert code == 0 and created["state"] == "draft"
    cid = created["id"]
    code, err = await policybot("approve", str(cid))  # an editor cannot approve
    assert code == 1 and "HTTP 403" in err and "reviewer" in err
    code, approved = await policybot("approve", str(cid), token="reviewer-token-7f3a9c2e5b8d1f4a")
    assert code == 0 and approved["state"] == "scheduled"
    code, listing = await policybot("list")
    assert listing["items"][0]["id"] == cid
    code, cancelled = await policybot("cancel", str(cid))
    assert cancelled["state"] == "cancelled"
    code, shown = await policybot("show", str(cid), "--report")
    assert shown["state"] == "cancelled" and shown["runs"][0]["state"] == "cancelled"
    assert (await Campaign.get(id=cid)).audience == {
        "topics": ["relief"],
        "regions": ["城关镇"],
        "everyone": False,
    }
