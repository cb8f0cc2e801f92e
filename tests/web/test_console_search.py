"""The console's "未找到的查询" screen (issue 14): what residents could not find,
by frequency and without who asked, fixed in one step; the fix works at once."""

from __future__ import annotations

from typing import Any

from bot.keys import SERVICES
from bot.search.models import MissKind, SearchMiss
from tests.web.console_helpers import csrf_of, log_in, staff_client, staff_settings

HOUSING = "qjf-2025-4-rural-housing-safety"


async def test_misses_are_listed_and_fixed_in_one_step(db_url: str, fake_wechat: Any) -> None:
    settings = staff_settings(db_url, fake_wechat.url, content={"sync_on_start": True})
    async with staff_client(settings) as client:
        search = client.server.app[SERVICES].search
        assert await search.search("老宅拾掇") == []
        rare = await SearchMiss.create(query="老宅拾掇", count=2)
        await SearchMiss.create(query="<b>狗证</b>", count=7, kind=MissKind.nothing)
        csrf = await log_in(client, "tok-publisher-7f3a9c2e5b8d1f4a")
        page = await (await client.get("/admin/search")).text()
        assert page.index("&lt;b&gt;狗证&lt;/b&gt;") < page.index(
            "老宅拾掇"
        )  # frequent first, escaped
        assert "<b>狗证</b>" not in page

        no_csrf = await client.post("/admin/search/rules", data={"word": "老宅拾掇"})
        assert no_csrf.status == 403
        empty = await client.post("/admin/search/rules", data={"csrf": csrf, "word": ""})
        assert empty.status == 422 and "不能为空" in await empty.text()

        fixed = await client.post(
            "/admin/search/rules",
            data={
                "csrf": csrf,
                "word": "老宅拾掇",
                "terms": "农村危房改造",
                "miss_id": str(rare.id),
            },
        )
        assert fixed.status == 200 and "已添加同义词" in await fixed.text()
        assert (await search.search("老宅拾掇"))[0].id == HOUSING  # at once, no restart
        listing = await (await client.get("/admin/search")).text()
        assert "等同于" in listing and "农村危房改造" in listing
        assert "<td>老宅拾掇</td><td>2</td>" not in listing  # the miss is resolved
        assert "<td>&lt;b&gt;狗证&lt;/b&gt;</td><td>7</td>" in listing

        keyword = await client.post(
            "/admin/search/rules",
            data={"csrf": csrf_of(listing), "word": "修房补钱", "doc_id": HOUSING},
        )
        assert keyword.status == 200
        assert (await search.search("修房补钱"))[0].id == HOUSING
