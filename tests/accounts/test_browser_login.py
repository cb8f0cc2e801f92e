"""Log-in in a real headless Chromium: first log-in → forced password change → dashboard →
an expired session, and a locked-out log-in on a phone; axe-core finds no violation on these pages.

Runs once (SQLite). Screenshots at 390 px and desktop width go to tests/artifacts/.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import ViewportSize

from bot.accounts import services as accounts
from bot.accounts.models import StaffSession
from tests.web.console_helpers import PASSWORD, staff_client, staff_settings
from tests.web.test_browser import ARGS, ARTIFACTS, CHROMIUM, _need_chromium

AXE = Path(__file__).resolve().parent.parent / "vendor" / "axe.min.js"
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
FITS = "document.documentElement.scrollWidth <= window.innerWidth"  # no sideways scrolling


async def _axe_violations(page: Any) -> list[str]:
    await page.add_script_tag(path=str(AXE))
    found = await page.evaluate("async () => (await axe.run(document)).violations")
    return [f"{v['id']}: {[n['target'] for n in v['nodes']]}" for v in found]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_first_log_in_and_lockout_in_a_browser(db_url: str, fake_wechat: Any) -> None:
    _need_chromium()
    from playwright.async_api import async_playwright

    async with staff_client(staff_settings(db_url, fake_wechat.url)) as client:
        temporary = await accounts.reset("李编辑", accounts.SYSTEM)  # as an admin would
        login_url = str(client.make_url("/admin/login"))
        ARTIFACTS.mkdir(exist_ok=True)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            try:
                # bypass_csp: axe is injected as an inline script, which the console's CSP forbids.
                desk = await (
                    await browser.new_context(viewport=DESKTOP, bypass_csp=True)
                ).new_page()
                await desk.goto(login_url)
                assert await _axe_violations(desk) == []
                await desk.screenshot(path=str(ARTIFACTS / "login-desktop.png"))
                await desk.get_by_label("用户名").fill("李编辑")
                await desk.get_by_label("密码").fill(temporary)
                await desk.get_by_role("button", name="登录").click()
                await desk.wait_for_url("**/admin/password**")
                assert "首次登录" in await desk.inner_text("main")
                assert await _axe_violations(desk) == []
                await desk.screenshot(path=str(ARTIFACTS / "password-change-desktop.png"))
                await desk.get_by_label("当前密码").fill(temporary)
                await desk.get_by_label("新密码", exact=True).fill("Bianji-Office-2025")
                await desk.get_by_label("再次输入新密码").fill("Bianji-Office-2025")
                await desk.get_by_role("button", name="修改密码").click()
                await desk.wait_for_url("**/admin/")
                assert "李编辑（编辑）" in await desk.inner_text("header")
                await desk.screenshot(path=str(ARTIFACTS / "dashboard-after-login-desktop.png"))

                # Half an hour away from the desk: the next click leads to the log-in form.
                idle = datetime.now(UTC) - timedelta(minutes=31)
                await StaffSession.all().update(last_seen_at=idle)
                await desk.get_by_role("link", name="居民留言").click()
                await desk.wait_for_url("**/admin/login**")
                assert "登录已失效" in await desk.get_by_role("status").inner_text()
                assert await _axe_violations(desk) == []
                await desk.screenshot(path=str(ARTIFACTS / "session-expired-desktop.png"))

                context = await browser.new_context(
                    viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                    bypass_csp=True,
                )  # fmt: skip
                phone = await context.new_page()
                await phone.goto(login_url)
                assert await phone.evaluate(FITS)
                await phone.screenshot(path=str(ARTIFACTS / "login-phone.png"))
                for attempt in range(5):
                    await phone.get_by_label("用户名").fill("王审核")
                    await phone.get_by_label("密码").fill(f"Guessing-{attempt}-x")
                    await phone.get_by_role("button", name="登录").click()
                    await phone.wait_for_load_state()
                alert = await phone.get_by_role("alert").inner_text()
                assert "已锁定 15 分钟" in alert and "密码不正确" not in alert
                assert await _axe_violations(phone) == []
                shot = ARTIFACTS / "login-locked-phone.png"
                await phone.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 10_000
            finally:
                await browser.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_admin_pages_in_a_browser(db_url: str, fake_wechat: Any) -> None:
    """An admin creates an account (temporary password shown once) and checks the trail."""
    _need_chromium()
    from playwright.async_api import async_playwright

    async with (
        staff_client(staff_settings(db_url, fake_wechat.url)) as client,
        async_playwright() as pw,
    ):
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            for width, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
                context = await browser.new_context(viewport=viewport, bypass_csp=True)
                page = await context.new_page()
                await page.goto(str(client.make_url("/admin/login?next=/admin/accounts")))
                await page.get_by_label("用户名").fill("管理员")
                await page.get_by_label("密码").fill(PASSWORD)
                await page.get_by_role("button", name="登录").click()
                await page.wait_for_url("**/admin/accounts")
                await page.get_by_label("用户名").fill(f"新同事-{width}")
                await page.get_by_label("角色").select_option("editor")
                await page.get_by_role("button", name="创建账号").click()
                await page.wait_for_load_state()
                assert len(await page.inner_text("#temporary-password")) >= 12
                assert await page.evaluate(FITS), f"accounts page wider than {width}"
                assert await _axe_violations(page) == []
                await page.screenshot(path=str(ARTIFACTS / f"accounts-{width}.png"), full_page=True)
                await page.goto(str(client.make_url("/admin/audit?verify=1")))
                assert "哈希链完整" in await page.inner_text("main")
                assert await page.evaluate(FITS), f"audit page wider than {width}"
                assert await _axe_violations(page) == []
                await page.screenshot(path=str(ARTIFACTS / f"audit-{width}.png"), full_page=True)
                await page.goto(str(client.make_url("/admin/account")))
                await page.get_by_role("button", name="生成绑定码").click()
                await page.wait_for_load_state()
                assert "绑定 " in await page.inner_text("#binding-code")
                assert await _axe_violations(page) == []
                await page.screenshot(path=str(ARTIFACTS / f"my-account-{width}.png"))
                await context.close()
        finally:
            await browser.close()
