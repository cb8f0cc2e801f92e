"""The landing page at /: what the account offers, with links to policies,
topics, search and the console; readable at phone and desktop width."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient

from tests.web.test_browser import ARGS, ARTIFACTS, CHROMIUM, PHONE, WECHAT_UA, _need_chromium


async def test_landing_page_says_what_the_account_offers(client: TestClient) -> None:
    resp = await client.get("/")
    assert resp.status == 200 and resp.content_type == "text/html"
    page = await resp.text()
    assert '<html lang="zh-CN">' in page
    for offer in ("查政策", "订阅推送", "留言", "12345"):
        assert offer in page
    links = set(re.findall(r'href="([^"]+)"', page))
    assert {"/policies", "/topics/relief", "/admin/"} <= links
    assert '<form class="search" action="/"' in page
    assert any(link.startswith("/policies/") for link in links)  # the newest policies


async def test_landing_page_search_finds_what_the_chat_finds(client: TestClient) -> None:
    page = await (await client.get("/", params={"q": "低保怎么申请"})).text()
    assert "“低保怎么申请”的搜索结果" in page
    assert 'href="/policies/qmf-2023-9-dibao-procedure"' in page
    nothing = await (await client.get("/", params={"q": "护照怎么办理"})).text()
    assert "没有找到相关内容" in nothing


async def test_landing_page_keeps_the_reading_modes(client: TestClient) -> None:
    page = await (await client.get("/", params={"variant": "hant", "care": "1"})).text()
    assert "訂閱推送" in page and "订阅推送" not in page
    assert 'href="/policies?care=1&amp;variant=hant"' in page
    assert 'name="variant" value="hant"' in page  # a search keeps them too


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_landing_page_at_phone_and_desktop_width(client: TestClient) -> None:
    _need_chromium()
    from playwright.async_api import async_playwright

    url = str(client.make_url("/"))
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            phone = await browser.new_context(
                viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                user_agent=WECHAT_UA,
            )  # fmt: skip
            page = await phone.new_page()
            await page.goto(url)
            assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            box = await page.locator("#q").bounding_box()
            assert box is not None and box["height"] >= 44  # a thumb can hit it
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "home-phone.png"), full_page=True)

            await page.fill("#q", "危房改造补助")
            await page.click("form.search button")
            await page.wait_for_url("**q=**")
            assert "危房" in await page.inner_text("section.results")
            await page.click("section.results a.title >> nth=0")
            await page.wait_for_url("**/policies/**")

            desktop = await browser.new_context(viewport={"width": 1280, "height": 900})
            wide = await desktop.new_page()
            await wide.goto(url)
            columns = await wide.evaluate(
                "getComputedStyle(document.querySelector('ul.offer-list')).gridTemplateColumns"
            )
            assert len(columns.split()) == 2  # offers side by side on a wide screen
            await wide.screenshot(path=str(ARTIFACTS / "home-desktop.png"), full_page=True)
            await wide.click("text=工作人员入口（管理后台）")
            await wide.wait_for_url("**/admin/**")
        finally:
            await browser.close()
