"""The policy page in real Chromium at phone and desktop width: 图解 inline, PDF
original, print, copy link, related policies, 关怀版's first screen, the list's search.

Runs once (SQLite); screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from tests.web.test_browser import ARGS, ARTIFACTS, CHROMIUM, PHONE, WECHAT_UA, _need_chromium

DESKTOP = {"width": 1280, "height": 900}
NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_policy_page_at_phone_and_desktop_width(client: TestClient) -> None:
    _need_chromium()
    from playwright.async_api import async_playwright, expect

    url = str(client.make_url("/policies/qmf-2023-9-dibao-procedure"))
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            phone = await browser.new_context(
                viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                user_agent=WECHAT_UA, permissions=["clipboard-read", "clipboard-write"],
            )  # fmt: skip
            page = await phone.new_page()
            await page.goto(url)
            assert await page.evaluate(NO_SIDEWAYS_SCROLL)
            figure = page.locator("figure.attachment.image img")
            await figure.scroll_into_view_if_needed()
            for _ in range(100):  # the 图解 has loaded (a polled evaluate: CSP forbids eval)
                if await figure.evaluate("img => img.naturalWidth > 0"):
                    break
                await page.wait_for_timeout(50)
            width = await figure.evaluate("img => img.getBoundingClientRect().width")
            assert 300 <= width <= PHONE["width"]  # the 图解 fits the phone
            assert await page.is_visible("a[href$='qmf-2023-9-original.pdf']")
            assert await page.locator("a.related-link").count() >= 1

            await page.click("#copy-link")
            await expect(page.locator("#copy-status")).to_contain_text("已复制")
            copied = await page.evaluate("navigator.clipboard.readText()")
            assert copied.endswith("/policies/qmf-2023-9-dibao-procedure")
            assert await page.is_visible("#print-page")
            await page.screenshot(path=str(ARTIFACTS / "policy-page-phone.png"), full_page=True)

            await page.emulate_media(media="print")
            assert not await page.is_visible("header.site")
            assert not await page.is_visible("#print-page")
            await page.screenshot(path=str(ARTIFACTS / "policy-page-print.png"), full_page=True)
            await page.emulate_media(media="screen")

            # 关怀版: the first screen is the title, the summary and the interpretation link
            await page.goto(url + "?care=1")
            await page.evaluate("window.scrollTo(0, 0)")
            link = await page.locator("a.interpretation-link").first.bounding_box()
            meta = await page.locator("#meta").bounding_box()
            summary = await page.locator("#summary").bounding_box()
            assert link and meta and summary
            assert summary["y"] < link["y"] < meta["y"]
            assert link["y"] + link["height"] <= PHONE["height"]  # on the first screen
            assert await page.evaluate(NO_SIDEWAYS_SCROLL)
            await page.screenshot(path=str(ARTIFACTS / "policy-page-care-phone.png"))

            # the list's search box
            await page.goto(str(client.make_url("/policies")))
            await page.fill("#policy-search", "低保怎么申请")
            await page.press("#policy-search", "Enter")
            await page.wait_for_url("**q=**")
            first = await page.locator("ol.policies a.title").first.inner_text()
            assert "最低生活保障" in first
            assert await page.evaluate(NO_SIDEWAYS_SCROLL)
            await page.screenshot(path=str(ARTIFACTS / "policies-search-phone.png"))
            await phone.close()

            desktop = await browser.new_context(viewport=DESKTOP)
            page = await desktop.new_page()
            await page.goto(url)
            image = page.locator("figure.attachment.image img")
            for _ in range(100):  # polled: CSP forbids the eval wait_for_function needs
                if await image.evaluate("img => img.complete"):
                    break
                await page.wait_for_timeout(50)
            assert await page.evaluate(NO_SIDEWAYS_SCROLL)
            await page.screenshot(path=str(ARTIFACTS / "policy-page-desktop.png"), full_page=True)
            await desktop.close()
        finally:
            await browser.close()
