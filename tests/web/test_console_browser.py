"""Whole console tasks in a real Chromium, as staff do them: a publisher writes a policy with
its interpretation and submits it, a reviewer publishes it and residents see both; an editor
composes a campaign to a topic, a reviewer approves it and the WeChat stand-in receives it
once per resident. Every page is screenshotted at phone and desktop width (tests/artifacts/)
and checked by axe-core (tests/vendor/axe.min.js) for accessibility violations.

Runs once (SQLite): the database behaviour is covered on both by test_console_screens.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.models import Subscriber, Subscription
from bot.search.models import SearchMiss
from tests.push.conftest import eventually, fake_ids
from tests.web.console_helpers import browser_log_in, leave_message, staff_client, staff_settings
from tests.web.test_browser import ARGS, ARTIFACTS, CHROMIUM, _need_chromium

AXE = Path(__file__).resolve().parent.parent / "vendor" / "axe.min.js"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
AXE_RUN = """axe.run(document).then(r => ({passes: r.passes.length, violations: r.violations.map(
    v => [v.id, v.impact, v.nodes.map(n => n.target.join(" ")).slice(0, 3)])}))"""
AUDIENCE = fake_ids(1, 5)  # followers the stand-in knows, subscribed to 救助 below


class Staff:
    """One person's browser tab: counts clicks per task (from the dashboard; typing into
    fields is not counted), screenshots and checks each page."""

    def __init__(self, page: Any, name: str, clicks: dict[str, int]) -> None:
        self.page, self.name, self.clicks, self.task = page, name, clicks, ""

    async def click(self, target: Any) -> None:
        self.clicks[self.task] = self.clicks.get(self.task, 0) + 1
        await target.click()

    async def check(self, shot: str) -> None:
        """Screenshots at desktop and 390 px, no sideways scrolling on a phone, no axe violation."""
        page = self.page
        await page.wait_for_load_state("networkidle")
        await page.screenshot(path=str(ARTIFACTS / f"console-{shot}-desktop.png"), full_page=True)
        await page.set_viewport_size(PHONE)
        await page.screenshot(path=str(ARTIFACTS / f"console-{shot}-phone.png"), full_page=True)
        wide = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert wide <= 0, f"{shot}: {wide} px wider than a phone"
        await page.add_script_tag(path=str(AXE))
        result = await page.evaluate(AXE_RUN)
        await page.set_viewport_size(DESKTOP)
        assert result["passes"] > 10, f"{shot}: axe did not run"
        assert result["violations"] == [], f"{shot}: {result['violations']}"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_staff_publish_and_push_in_the_browser(db_url: str, fake_wechat: Any) -> None:
    _need_chromium()
    from playwright.async_api import async_playwright, expect

    settings = staff_settings(
        db_url, fake_wechat.url, push={"quiet_hours": "", "rate_per_second": 200},
        wechat={"template_id": "tmpl-policy"}, content={"sync_on_start": True},
    )  # fmt: skip
    ARTIFACTS.mkdir(exist_ok=True)
    clicks: dict[str, int] = {}
    async with staff_client(settings, role="all") as client, async_playwright() as pw:
        base = str(client.make_url("")).rstrip("/")
        await Subscriber.filter(openid__in=AUDIENCE).update(following=True)
        await Subscriber.bulk_create(
            [Subscriber(openid=o) for o in AUDIENCE], ignore_conflicts=True
        )
        await Subscription.bulk_create(
            [Subscription(subscriber_id=o, topic_id="relief") for o in AUDIENCE]
        )
        fake_wechat.mark_active("o-fake-000009")
        await leave_message(client, "低保申请要带哪些材料？", openid="o-fake-000009")
        gone = await leave_message(client, "还能领取补贴吗？", openid="o-fake-000010")
        await Subscriber.filter(openid="o-fake-000010").update(following=False)  # unfollowed since
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:

            async def person(token: str, name: str) -> Staff:
                context = await browser.new_context(
                    viewport=DESKTOP, bypass_csp=True
                )  # axe is injected
                staff = Staff(await context.new_page(), name, clicks)
                await browser_log_in(staff.page, base, token)
                return staff

            login = await (await browser.new_context(viewport=DESKTOP, bypass_csp=True)).new_page()
            await login.goto(f"{base}/admin/login")
            await Staff(login, "", clicks).check("login")

            # 1. A publisher writes a policy with its interpretation and submits it.
            publisher = await person("tok-publisher-7f3a9c2e5b8d1f4a", "张发布")
            page = publisher.page
            await publisher.check("dashboard-publisher")
            publisher.task = "起草政策并提交审核"
            await publisher.click(page.get_by_role("link", name="起草新政策").first)
            await page.get_by_label("标题（必填）").fill("关于发放冬季取暖补贴的通知")
            await page.get_by_label("编号（网址中使用，字母、数字和 -）（必填）").fill(
                "qzb-2025-9-heating"
            )
            await page.get_by_label("发布机构（必填）").fill("青山县民政局")
            await page.get_by_label("文号").fill("青民发〔2025〕9号")
            await page.get_by_label("索引号").fill("QS-MZ-2025-0009")
            await page.get_by_label("成文日期（必填）").fill("2025-11-20")
            await publisher.click(page.get_by_label("社会救助"))
            await publisher.click(page.get_by_label("救助", exact=True))
            await publisher.click(page.get_by_label("须与解读同步发布（三同步）"))
            await page.get_by_label("正文（Markdown）", exact=True).fill(
                "一、补贴对象\n\n城乡低保户、特困人员。\n\n二、补贴标准\n\n每户 **300 元**。"
            )
            preview = page.locator("#preview-policy")
            await expect(preview.locator("strong")).to_have_text("300 元")
            await page.get_by_label("解读标题").fill("一图读懂冬季取暖补贴")
            await page.get_by_label("解读编号（网址）").fill("qzb-2025-9-heating-jd")
            await page.get_by_label("解读正文（Markdown）").fill(
                "低保户每户可领 300 元，12 月底前发放。"
            )
            await expect(preview).to_contain_text("12 月底前发放")
            await publisher.check("policy-editor")
            await publisher.click(page.get_by_role("button", name="保存并提交审核"))
            await expect(page.get_by_role("status")).to_contain_text("已提交审核")

            # 2. A reviewer sees the whole package and publishes it; residents see both.
            reviewer = await person("tok-reviewer-7f3a9c2e5b8d1f4a", "王审核")
            page = reviewer.page
            await reviewer.check("dashboard-reviewer")
            reviewer.task = "审核发布政策"
            await reviewer.click(page.locator("#card-review"))
            package = page.locator("#policy-qzb-2025-9-heating")
            for shown in ("QS-MZ-2025-0009", "社会救助", "救助", "有效", "一图读懂冬季取暖补贴"):
                await expect(package).to_contain_text(shown)
            await reviewer.check("review")
            await reviewer.click(package.get_by_role("button", name="审核发布（政策与 1 篇解读）"))
            await expect(page.get_by_role("status")).to_contain_text("已发布")
            resident = await (await client.get("/policies/qzb-2025-9-heating")).text()
            assert "一图读懂冬季取暖补贴" in resident and "300 元" in resident
            assert (await client.get("/interpretations/qzb-2025-9-heating-jd")).status == 200

            # 3. An editor composes a campaign to the topic with the picker and a live count.
            editor = await person("tok-editor-7f3a9c2e5b8d1f4a", "李编辑")
            page = editor.page
            await editor.check("dashboard-editor")
            editor.task = "新建推送任务并提交审核"
            await editor.click(page.get_by_role("link", name="新建推送任务").first)
            await page.get_by_label("标题（必填，居民最先看到）").fill("冬季取暖补贴开始发放")
            await page.get_by_label("关联政策或解读（搜索后选择）").fill("取暖补贴")
            await editor.click(page.get_by_role("button", name="解读：一图读懂冬季取暖补贴"))
            await expect(
                page.get_by_label("已选择（也可直接填写 policy:编号 或 interpretation:编号）")
            ).to_have_value("interpretation:qzb-2025-9-heating-jd")
            await editor.click(page.get_by_label("救助", exact=True))
            await expect(page.locator("#live-count")).to_have_text("将送达 5 人")
            await expect(page.locator("#message-preview")).to_contain_text(
                "/interpretations/qzb-2025-9-heating-jd"
            )
            await editor.check("compose")
            await editor.click(page.get_by_role("button", name="提交审核"))
            await expect(page.get_by_role("status")).to_contain_text("等待另一位审核人审核")
            campaign_url = page.url.split("?")[0]

            # 4. The reviewer approves what they see, and watches it go out.
            page = reviewer.page
            reviewer.task = "审核推送任务"
            await page.goto(f"{base}/admin/")
            await reviewer.click(page.locator("#card-campaigns"))
            await reviewer.check("campaigns")
            await reviewer.click(page.get_by_role("link", name="冬季取暖补贴开始发放"))
            facts = page.locator("#campaign-facts")
            await expect(facts).to_contain_text("订阅“救助”的居民")
            await expect(facts).to_contain_text("解读：一图读懂冬季取暖补贴")
            await expect(facts).to_contain_text("tmpl-policy")
            await reviewer.click(page.get_by_role("button", name="审核通过（发送给 5 人）"))
            await expect(page.locator('[data-count="sent"]')).to_have_text("5", timeout=20_000)
            await expect(page.locator("#state")).to_have_text("已完成", timeout=20_000)
            # The finished page says so everywhere: no 取消推送, the run finished too.
            await expect(page.locator("#cancel")).to_have_count(0, timeout=10_000)
            await expect(page.locator("#runs")).to_contain_text("已完成")
            await expect(page.locator("#runs")).not_to_contain_text("发送中")
            await reviewer.check("campaign-done")
            assert page.url.startswith(campaign_url)

            async def each_once() -> bool:
                return all(len(fake_wechat.messages(o)) == 1 for o in AUDIENCE)

            await eventually(each_once)
            sent = fake_wechat.messages(AUDIENCE[0])[0]["payload"]
            # The resident's link (signed, counts the first open) leads to the interpretation.
            link = "/r/" + sent["url"].rsplit("/r/", 1)[1]
            opened = await client.get(link, allow_redirects=False)
            assert opened.headers["Location"].endswith("/interpretations/qzb-2025-9-heating-jd")
            assert fake_wechat.messages("o-fake-000006") == []  # not subscribed

            # 5. The other screens: 留言 answered in one step, subscribers, cancel asks first.
            page = editor.page
            editor.task = "答复留言"
            await page.goto(f"{base}/admin/")
            await editor.click(page.locator("#card-feedback"))
            await editor.check("feedback")
            unfollowed = page.locator(f"#feedback-{gone}")
            await expect(unfollowed).to_contain_text("居民已取消关注，答复无法通过微信送达")
            await expect(unfollowed).not_to_contain_text("48 小时内有互动")
            await (
                page.locator(f"#feedback-{gone - 1}")
                .get_by_label("答复（不超过 600 字）")
                .fill("请带户口簿、身份证到镇民政办申请。")
            )
            await editor.click(
                page.locator(f"#feedback-{gone - 1}").get_by_role("button", name="发送答复")
            )
            await expect(page.get_by_role("status")).to_contain_text("已通过微信客服消息发送给居民")
            await page.goto(f"{base}/admin/residents?openid={AUDIENCE[0]}")
            await expect(page.locator("#resident")).to_contain_text("救助")
            await editor.check("residents")
            await page.goto(f"{base}/admin/policies")
            await editor.check("policies")
            await SearchMiss.create(query="老宅拾掇怎么补", count=3)
            await page.goto(f"{base}/admin/search")
            await page.get_by_role("link", name="补充检索词").first.click()
            await page.get_by_label("居民的说法").fill("老宅拾掇")
            await page.get_by_label("等同于（文件用语，可填多个，用空格分隔）").fill("农村危房改造")
            await page.get_by_role("button", name="保存").click()
            await expect(page.get_by_role("status")).to_contain_text("已添加同义词")
            await editor.check("search")
            await page.goto(f"{base}/admin/policies/qzb-2025-9-heating")
            await editor.check("policy-view")
            # Participation's screens, in the same frame: its navigation entries lead there.
            await page.get_by_role("link", name="依申请公开").click()
            await expect(page.get_by_role("link", name="依申请公开")).to_have_attribute(
                "aria-current", "page"
            )
            await editor.check("disclosure")
            await page.get_by_role("link", name="征求意见").click()
            await expect(page.locator("main")).to_contain_text("城乡公交线路优化方案")
            await editor.check("consultations")
            await page.goto(f"{base}/admin/campaigns/new")
            await page.get_by_label("标题（必填，居民最先看到）").fill("测试取消")
            await page.get_by_label("正文（可选；留空时使用政策摘要）").fill("这条不发")
            await page.get_by_label("全部关注的居民").check()
            await page.get_by_role("button", name="提交审核").click()
            await page.get_by_role("link", name="取消推送…").click()
            await editor.check("cancel-confirm")
            # By keyboard alone: the first Tab reaches the skip link, then on to the button.
            await page.keyboard.press("Tab")
            assert await page.evaluate("document.activeElement.textContent") == "跳到正文"
            for _ in range(30):
                await page.keyboard.press("Tab")
                if await page.evaluate("document.activeElement.id") == "confirm-cancel":
                    break
            else:
                raise AssertionError("确认取消推送 cannot be reached with Tab")
            await page.keyboard.press("Enter")
            await expect(page.get_by_role("status")).to_contain_text("推送任务已取消")
            print("clicks from the dashboard:", clicks)
        finally:
            await browser.close()
