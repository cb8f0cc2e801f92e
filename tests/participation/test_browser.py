"""A resident on a phone in a real headless Chromium: fills in the disclosure form and
reads a draft out for comment. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.participation.helpers import ID_NUMBER, settings_for
from tests.web.console_helpers import bearer, staff_client
from tests.web.test_browser import ARGS, ARTIFACTS, CHROMIUM, PHONE, WECHAT_UA, _need_chromium


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_resident_applies_and_reads_a_draft_on_a_phone(db_url: str, fake_wechat: Any) -> None:
    _need_chromium()
    from playwright.async_api import async_playwright

    settings = settings_for(db_url, fake_wechat.url)
    today = dt.datetime.now(settings.server.tz).date()
    async with staff_client(settings) as client:
        draft = {"id": "care", "title": "高龄津贴发放办法（征求意见稿）", "issuer": "青山县民政局", "kind": "规范性文件",
                 "opens_on": today.isoformat(), "closes_on": (today + dt.timedelta(days=20)).isoformat(),
                 "body": "为做好高龄津贴发放工作，公开征求意见。\n\n## 第一条 适用范围\n\n本县户籍、年满 80 周岁的老年人。\n\n"
                         "## 第二条 发放标准\n\n80 至 89 周岁每人每月 100 元。"}  # fmt: skip
        assert (
            await client.post(
                "/api/v1/admin/consultations",
                json=draft,
                headers=bearer("tok-editor-7f3a9c2e5b8d1f4a"),
            )
        ).status == 201
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=str(CHROMIUM), args=ARGS, headless=True
            )
            try:
                context = await browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True,
                                                    has_touch=True, user_agent=WECHAT_UA)  # fmt: skip
                page = await context.new_page()
                await page.goto(str(client.make_url("/disclosure/apply")))
                assert await page.evaluate(
                    "document.documentElement.scrollWidth <= window.innerWidth"
                )
                await page.fill("input[name=name]", "张三")
                await page.fill("input[name=id_number]", ID_NUMBER)
                await page.fill("input[name=phone]", "13812345678")
                await page.fill("input[name=address]", "青山县城关镇解放路 1 号")
                await page.fill(
                    "textarea[name=description]", "2025 年城关镇危房改造补助资金发放名单"
                )
                await page.select_option("select[name=delivery]", "邮寄")
                ARTIFACTS.mkdir(exist_ok=True)
                await page.screenshot(
                    path=str(ARTIFACTS / "disclosure-apply-phone.png"), full_page=True
                )
                await page.click("button[type=submit]")
                await page.wait_for_selector("#number")
                number = await page.inner_text("#number")
                assert number.startswith(f"YSQ{today.year}-")
                await page.screenshot(path=str(ARTIFACTS / "disclosure-received-phone.png"))

                await page.goto(str(client.make_url("/consultations/care")))
                assert "第二条 发放标准" in await page.inner_text("article")
                assert await page.inner_text("#days-left") == "21"  # today included
                shot = ARTIFACTS / "consultation-phone.png"
                await page.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 10_000
            finally:
                await browser.close()
