"""A resident on a phone, in a real headless Chromium: large print, 繁體, the interpretation link.

Runs once (SQLite); the screenshot is kept in tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
PHONE = {"width": 390, "height": 844}
WECHAT_UA = (
    "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Mobile Safari/537.36 MicroMessenger/8.0.47"
)


def _need_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing in CI (.ci/run installs the chromium package)")
    pytest.skip(f"{CHROMIUM} not installed (apt-get install -y chromium); browser test skipped")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_resident_reads_policy_on_a_phone(client: TestClient) -> None:
    _need_chromium()
    from playwright.async_api import async_playwright

    url = str(client.make_url("/policies/qzb-2024-12-dibao-standard"))
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            context = await browser.new_context(
                viewport=PHONE,
                device_scale_factor=2,
                is_mobile=True,
                has_touch=True,
                user_agent=WECHAT_UA,
            )
            page = await context.new_page()
            await page.goto(url)
            body_size = "parseFloat(getComputedStyle(document.body).fontSize)"
            normal = await page.evaluate(body_size)
            assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

            await page.click("#toggle-care")
            await page.wait_for_url("**care=1**")
            assert await page.evaluate(body_size) >= normal * 1.25
            assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

            await page.click("#toggle-variant")
            await page.wait_for_url("**variant=hant**")
            assert "青山縣" in await page.inner_text("h1")
            assert "發佈機構" in await page.inner_text("dl.meta")

            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "policy-care-hant-phone.png"))

            await page.click("a.interpretation-link >> nth=0")
            await page.wait_for_url("**/interpretations/**")
            assert "care=1" in page.url and "variant=hant" in page.url  # the modes follow the link
            assert await page.evaluate("document.body.classList.contains('care')")
            back = await page.get_attribute("#policy-link", "href")
            assert back is not None and back.startswith("/policies/qzb-2024-12-dibao-standard")

            shot = ARTIFACTS / "interpretation-care-hant-phone.png"
            await page.screenshot(path=str(shot), full_page=True)
            print(f"screenshots: {ARTIFACTS / 'policy-care-hant-phone.png'} {shot}")
            assert shot.stat().st_size > 10_000
        finally:
            await browser.close()
