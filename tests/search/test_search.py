"""Keyword search as residents meet it: the words they type find the right
policy, with its interpretations and its replacement; a question the catalog
does not cover says so; both databases; another process's publishing shows
up within a second."""

from __future__ import annotations

import asyncio
import shutil
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from bot.catalog.sync import sync_content
from bot.config import Settings
from bot.handlers import handle
from bot.handlers.types import Incoming
from bot.search import Hit, SearchIndex, announce_change
from bot.search.reply import format_results
from bot.services import Services, open_services
from bot.text import TEXT_REPLY_LIMIT
from tests.conftest import CONTENT, ROOT

DIBAO = "qzb-2024-12-dibao-standard"
HOUSING = "qjf-2025-4-rural-housing-safety"
OLD_HOUSING = "qjf-2023-6-rural-dangerous-housing"
ELDERLY = "qmf-2024-20-elderly-allowance"


async def _ids(services: Services, query: str, limit: int = 5) -> list[str]:
    return [h.id for h in await services.search.search(query, limit)]


async def _chat(services: Services, text: str) -> str:
    message = Incoming(
        kind="text",
        openid="o-resident",
        created_at=datetime.now(UTC),
        text=text,
        msg_id=str(abs(hash(text))),
    )
    _route, reply = await handle(services, message)
    assert reply is not None
    return reply.text  # type: ignore[union-attr]


async def test_residents_words_find_the_policy(synced: Services) -> None:
    # traditional characters, an abbreviation the document never uses, everyday words
    assert (await _ids(synced, "拆遷補償"))[0] == "qzf-2022-8-housing-expropriation"
    assert (await _ids(synced, "危改补助"))[0] == HOUSING
    assert (await _ids(synced, "家里房子漏雨能补助吗"))[0] == HOUSING
    assert "qmf-2023-9-dibao-procedure" in await _ids(synced, "低保怎么申请", 3)
    assert (await _ids(synced, "被征地了补多少钱"))[0] == "qzf-2023-3-land-expropriation"
    # a catalog row (办事指南) is a result too
    rows = [h for h in await synced.search.search("公租房分配结果") if h.kind == "catalog_item"]
    assert (
        rows
        and rows[0].title == "配给管理·分配结果"
        and rows[0].url.endswith(f"/catalog/{rows[0].id}")
    )


async def test_every_way_of_typing_a_doc_number(synced: Services) -> None:
    for typed in [
        "青政办〔2024〕12号",
        "青政办[2024]12号",
        "青政办【2024】12号",
        "青政办(2024)12号",
        "青政办（2024）12号",
        "青政办2024年12号",
        "青政办 2024 12号",
        "青政办2024年第12号",
        "青政辦〔2024〕12號",
    ]:
        hits = await synced.search.search(typed)
        assert hits and hits[0].id == DIBAO, typed
        assert hits[0].doc_number == "青政办〔2024〕12号"
    assert await synced.search.search("青政办〔2031〕99号") == []


async def test_repealed_policy_points_to_its_replacement(synced: Services) -> None:
    old = (await synced.search.search("青建发〔2023〕6号"))[0]
    assert old.id == OLD_HOUSING and old.validity == "废止"
    assert isinstance(old.replaced_by, Hit) and old.replaced_by.id == HOUSING
    # on the same words, the valid policy ranks above the repealed one
    ids = await _ids(synced, "农村危房改造补助资金", 10)
    assert ids.index(HOUSING) < ids.index(OLD_HOUSING)
    text = await _chat(synced, "青建发〔2023〕6号")
    assert "已废止" in text and f"/policies/{HOUSING}" in text


async def test_interpretation_is_grouped_with_its_policy(synced: Services) -> None:
    hits = await synced.search.search("图解 高龄津贴怎么领")
    assert hits[0].id == ELDERLY and hits[0].kind == "policy"
    assert "图解" in [form for _t, _u, form in hits[0].interpretations]
    assert all(h.kind != "interpretation" for h in hits)  # not listed twice
    text = await _chat(synced, "高龄津贴")
    assert (
        f"/policies/{ELDERLY}" in text
        and "/interpretations/tj-qmf-2024-20-elderly-allowance" in text
    )


async def test_nothing_found_says_so_and_suggests_next_steps(synced: Services) -> None:
    for query in ["护照怎么办理", "买新能源汽车有补贴吗", "今天天气怎么样", "asdfgh"]:
        assert await synced.search.search(query) == [], query
    text = await _chat(synced, "护照怎么办理")
    assert "没有找到" in text and "留言" in text and "订阅" in text and "救助" in text  # a topic
    assert "http" not in text


async def test_chat_reply_fits_one_wechat_message(synced: Services) -> None:
    text = await _chat(synced, "补贴")  # a broad word: five results with interpretations
    assert len(text.encode("utf-8")) <= TEXT_REPLY_LIMIT
    assert text.count("http://policy.test/policies/") >= 3
    # even absurdly long titles keep the reply whole-entried and within the limit
    hits = [
        Hit(
            "policy",
            f"p{i}",
            "很长的标题" * 60,
            f"http://policy.test/policies/p{i}",
            1.0,
            doc_number="青政办〔2024〕12号",
            interpretations=[("解读", f"http://policy.test/interpretations/j{i}", "文字解读")],
        )
        for i in range(5)
    ]
    long, _shown = format_results("补贴", hits)
    assert len(long.encode("utf-8")) <= TEXT_REPLY_LIMIT and "1. " in long


async def test_deployment_synonyms_extend_the_builtin_ones(
    tmp_path: Path, settings: Settings
) -> None:
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    local = settings.model_copy(
        update={"content": settings.content.model_copy(update={"dir": content})}
    )
    async with open_services(local, sync_content=True) as services:
        assert await services.search.search("老宅拾掇") == []
        with (content / "synonyms.txt").open("a", encoding="utf-8") as f:
            f.write("\n农村危房改造 老宅拾掇\n")
        await services.search.refresh()
        assert await services.search.search("老宅拾掇") == []  # the file alone changes nothing
        await sync_content(content)  # as `policybot content sync` in another process
        await services.search.refresh()  # the refresher would notice within a poll
        assert (await _ids(services, "老宅拾掇"))[0] == HOUSING


async def test_search_api_json(client: TestClient) -> None:
    response = await client.get("/api/v1/search", params={"q": "低保标准", "limit": "3"})
    assert response.status == 200
    assert '"query":"低保标准"' in await response.text()  # readable Chinese, not \uXXXX escapes
    data = await response.json()
    assert data["query"] == "低保标准" and 1 <= len(data["results"]) <= 3
    first = data["results"][0]
    assert set(first) == {"kind", "id", "title", "url", "score"}
    assert (
        first["kind"] == "policy"
        and first["id"] == DIBAO
        and first["url"].endswith(f"/policies/{DIBAO}")
    )
    scores = [r["score"] for r in data["results"]]
    assert scores == sorted(scores, reverse=True)
    nothing = await (await client.get("/api/v1/search", params={"q": "护照怎么办理"})).json()
    assert nothing == {"query": "护照怎么办理", "results": []}
    for params in [
        {},
        {"q": " "},
        {"q": "低保", "limit": "0"},
        {"q": "低保", "limit": "51"},
        {"q": "低保", "limit": "x"},
    ]:
        bad = await client.get("/api/v1/search", params=params)
        assert bad.status == 400, params
        body = await bad.json()
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}


_PUBLISHER = textwrap.dedent("""
    import asyncio, datetime, sys
    from tortoise import Tortoise
    from bot import db
    from bot.catalog.models import Policy, Status

    async def main(url, action):
        await Tortoise.init(config=db.tortoise_config(url))
        if action == "publish":
            await Policy.create(
                id="qlb-2026-5-ancient-trees", title="青山县古树名木保护管理办法",
                issuer="青山县林业局", written_on=datetime.date(2026, 5, 1),
                doc_number="青林发〔2026〕5号", keywords=["古树名木", "挂牌保护"],
                summary="古树名木实行挂牌保护。", body_md="## 一、适用范围", status=Status.published)
        else:
            await Policy.filter(id="qlb-2026-5-ancient-trees").update(
                status=Status.unpublished, updated_at=datetime.datetime.now(datetime.timezone.utc))
        await Tortoise.close_connections()

    asyncio.run(main(sys.argv[1], sys.argv[2]))
""")


async def _in_other_process(url: str, action: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _PUBLISHER, url, action, cwd=ROOT
    )
    assert await proc.wait() == 0


async def _within_a_second(services: Services, query: str, present: bool) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 1.0
    while True:
        found = "qlb-2026-5-ancient-trees" in await _ids(services, query)
        if found == present or loop.time() > deadline:
            return found == present
        await asyncio.sleep(0.05)


async def test_published_in_another_process_is_found_within_a_second(synced: Services) -> None:
    url = synced.settings.database.url
    assert await synced.search.search("古树名木保护") == []
    await _in_other_process(url, "publish")
    assert await _within_a_second(synced, "古树名木保护", present=True)
    assert await _within_a_second(synced, "青林发2026年5号", present=True)
    await _in_other_process(url, "unpublish")
    assert await _within_a_second(synced, "古树名木保护", present=False)


async def test_a_redis_announcement_wakes_a_slow_polling_index(synced: Services) -> None:
    redis = Redis.from_url("redis://127.0.0.1:6379/14", decode_responses=True)
    other = SearchIndex(synced.settings, redis=redis, poll_seconds=60)  # a second process's index
    await other.start()
    try:
        await _in_other_process(synced.settings.database.url, "publish")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 1.0
        while not await other.search("古树名木保护") and loop.time() < deadline:
            await announce_change(redis)  # the publisher's announcement (again, until subscribed)
            await asyncio.sleep(0.05)
        assert [h.id for h in await other.search("古树名木保护")] == ["qlb-2026-5-ancient-trees"]
    finally:
        await other.stop()
        await redis.aclose()


async def test_a_catalog_row_edited_in_place_is_found_within_a_second(
    tmp_path: Path, settings: Settings
) -> None:
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    local = settings.model_copy(
        update={"content": settings.content.model_copy(update={"dir": content})}
    )
    async with open_services(local, sync_content=True) as services:
        before = [
            h for h in await services.search.search("公租房分配结果") if h.kind == "catalog_item"
        ]
        assert before and await services.search.search("见习基地名录") == []
        csv = content / "catalog/affordable-housing.csv"
        text = csv.read_text(encoding="utf-8")
        old = "房源信息、配租方案、摇号结果、配租结果"
        assert old in text
        csv.write_text(text.replace(old, "见习基地名录、房源信息、配租结果"), encoding="utf-8")
        report = await sync_content(content)
        assert report.updated["catalog_item"] == 1 and report.created["catalog_item"] == 0

        loop = asyncio.get_running_loop()
        deadline = loop.time() + 1.0
        while not (hits := await services.search.search("见习基地名录")) and loop.time() < deadline:
            await asyncio.sleep(0.05)  # the refresher polls; nobody calls refresh()
        assert [(h.kind, h.id) for h in hits][:1] == [("catalog_item", before[0].id)]
