"""Search replies readable on a phone: three tappable results, “更多” for the
rest, traditional-character queries answered with 繁體 links, all under 2048 bytes."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient

from bot.search.hits import Hit
from bot.search.reply import format_results
from bot.services import Services
from tests.handlers.chat import say

LINK = re.compile(r'<a href="([^"]+)">([^<]+)</a>')


def _numbers(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"^(\d+)\. <a ", text, re.M)]


def _bare_urls(text: str) -> list[str]:
    return re.findall(r"https?://\S+", LINK.sub("", text))


async def test_three_tappable_results_then_more(synced: Services) -> None:
    first = await say(synced, "补贴")
    assert _numbers(first) == [1, 2, 3]
    assert _bare_urls(first) == []  # every address hides behind its title
    links = LINK.findall(first)
    assert links and all(url.startswith("http://policy.test/") for url, _ in links)
    assert any("/interpretations/" in url for url, _ in links)
    assert "发送“更多”" in first

    second = await say(synced, "更多")
    assert _numbers(second) == [4, 5, 6]
    assert not set(LINK.findall(second)[0]) & {u for u, _ in links}
    pages = [second]
    while "发送“更多”" in pages[-1]:
        pages.append(await say(synced, "更多"))
        assert len(pages) < 6
    assert "没有更多结果" in await say(synced, "更多")

    # A new search starts over; 更多 follows the newest one.
    assert _numbers(await say(synced, "补贴")) == [1, 2, 3]
    assert _numbers(await say(synced, "更多")) == [4, 5, 6]


async def test_more_is_per_resident(synced: Services) -> None:
    await say(synced, "补贴", openid="o-a")
    assert "没有更多结果" in await say(synced, "更多", openid="o-b")
    assert _numbers(await say(synced, "更多", openid="o-a"))[0] == 4


async def test_traditional_query_links_to_traditional_pages(synced: Services) -> None:
    reply = await say(synced, "低保怎麼申請")
    assert "相關的內容" in reply  # answered in traditional characters
    urls = [url for url, _ in LINK.findall(reply)]
    assert urls and all(url.endswith("?variant=hant") for url in urls)
    simplified = await say(synced, "低保怎么申请")
    assert "variant" not in simplified and "为您找到" in simplified


async def test_traditional_links_open_traditional_pages(client: TestClient) -> None:
    resp = await client.get("/policies/qzb-2024-12-dibao-standard?variant=hant")
    assert resp.status == 200 and "青山縣" in await resp.text()


def test_long_titles_keep_markup_whole_and_within_the_limit() -> None:
    hits = [
        Hit(
            "policy",
            f"p{i}",
            "很长的标题<b>" * 80,
            f"http://policy.test/policies/p{i}",
            1.0,
            doc_number="青政办〔2024〕12号",
            interpretations=[
                (f"解读{j}", f"http://policy.test/interpretations/j{i}{j}", "图解")
                for j in range(5)
            ],
        )
        for i in range(5)
    ]
    text, shown = format_results("补贴", hits, page=5)
    assert len(text.encode("utf-8")) < 2048
    assert shown >= 3 and _numbers(text) == list(range(1, shown + 1))
    assert text.count("<a ") == text.count("</a>") and "<b>" not in text
