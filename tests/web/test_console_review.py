"""The console's review page for a correction: the diff, and the hash of what was shown."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from bot.audit import Actor
from bot.catalog import publishing
from bot.catalog.models import Policy
from tests.web.console_helpers import log_in, staff_client, staff_settings

WRITER = Actor("张发布", "publisher")


async def test_a_reviewer_publishes_the_correction_they_saw(db_url: str, fake_wechat: Any) -> None:
    settings = staff_settings(db_url, fake_wechat.url)
    async with staff_client(settings) as client:
        base = {"id": "fix-c", "title": "关于调整补贴标准的通知", "issuer": "青山县民政局",
                "written_on": "2026-01-05", "body": "补贴标准为每人每月100元。"}  # fmt: skip
        await publishing.save_draft(base, WRITER)
        await publishing.submit("fix-c", WRITER)
        first = await publishing.working_version("fix-c")
        assert first is not None
        await publishing.publish("fix-c", Actor("王审核", "reviewer"), dt.date.today(),
                                 first.content_hash)  # fmt: skip
        await publishing.save_draft({**base, "body": "补贴标准为每人每月120元。"}, WRITER)
        await publishing.submit("fix-c", WRITER)

        csrf = await log_in(client, "tok-reviewer-7f3a9c2e5b8d1f4a")
        page = await (await client.get("/admin/review")).text()
        assert "更正：第 2 版" in page and 'class="del"' in page and "120元" in page
        seen = re.search(r'name="version_hash" value="([0-9a-f]{64})"', page)
        assert seen is not None

        # the author changes it again after the page was read
        await publishing.save_draft({**base, "body": "补贴标准为每人每月150元。"}, WRITER)
        await publishing.submit("fix-c", WRITER)
        path = "/admin/review/fix-c/publish"
        stale = await client.post(path, data={"csrf": csrf, "version_hash": seen[1]})
        assert stale.status == 409 and "审阅后已被修改" in await stale.text()
        assert "100元" in (await Policy.get(id="fix-c")).body_md

        page = await (await client.get("/admin/review")).text()
        fresh = re.search(r'name="version_hash" value="([0-9a-f]{64})"', page)
        assert fresh is not None and "150元" in page
        done = await client.post(path, data={"csrf": csrf, "version_hash": fresh[1]})
        assert done.status == 200 and "已发布" in await done.text()
        assert "150元" in await (await client.get("/policies/fix-c")).text()
