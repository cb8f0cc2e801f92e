"""``/eligibility``: the check as a form, on both databases over HTTP, and in a real
Chromium at 390 px and on a desktop (screenshots in tests/artifacts/)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.eligibility.models import EligibilityCheck, ResidentProfile
from tests.web.test_browser import ARGS, ARTIFACTS, CHROMIUM, PHONE, WECHAT_UA, _need_chromium


async def test_the_form_asks_what_policies_need_and_answers_without_keeping_anything(
    client: TestClient,
) -> None:
    page = await (await client.get("/eligibility")).text()
    assert "政策体检" in page and 'name="age"' in page and 'name="hukou"' in page
    assert 'name="pregnant"' not in page  # no policy in force names it
    form = {"age": "82", "hukou": "农村", "farming_land_mu": "3", "status": "none"}
    response = await client.post("/eligibility", data=form)
    assert response.status == 200
    html = await response.text()
    assert "可能符合" in html and "您年满80周岁，户籍在本县" in html
    assert "高龄津贴每人每月50元" in html and "/policies/qmf-2024-20-elderly-allowance" in html
    assert "看政策解读" in html and "还需补充信息才能判断" in html
    assert not await ResidentProfile.all().exists() and not await EligibilityCheck.all().exists()
    bad = await (await client.post("/eligibility", data={"age": "很老"})).text()
    assert "82岁" in bad and 'role="alert"' in bad


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_resident_fills_the_form_on_a_phone_and_on_a_desktop(client: TestClient) -> None:
    _need_chromium()
    from playwright.async_api import async_playwright

    url = str(client.make_url("/eligibility"))
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            sizes: list[tuple[str, Any, bool]] = [
                ("phone", PHONE, True),
                ("desktop", {"width": 1280, "height": 900}, False),
            ]
            for name, viewport, mobile in sizes:
                context = await browser.new_context(
                    viewport=viewport, is_mobile=mobile, has_touch=mobile,
                    user_agent=WECHAT_UA if mobile else None,
                )  # fmt: skip
                page = await context.new_page()
                await page.goto(url)
                assert await page.evaluate(
                    "document.documentElement.scrollWidth <= window.innerWidth"
                )
                await page.fill("input[name=age]", "八十二岁")
                await page.check("input[name=hukou][value=农村]")
                await page.fill("input[name=farming_land_mu]", "3")
                await page.check("input[name=status][value=none]")
                await page.click("form.check button[type=submit]")
                await page.wait_for_selector("#results")
                text = await page.inner_text("#results")
                assert "可能符合" in text and "高龄津贴" in text
                assert await page.evaluate(
                    "document.documentElement.scrollWidth <= window.innerWidth"
                )
                ARTIFACTS.mkdir(exist_ok=True)
                await page.screenshot(
                    path=str(ARTIFACTS / f"eligibility-{name}.png"), full_page=True
                )
                await context.close()
        finally:
            await browser.close()
