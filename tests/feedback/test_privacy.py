"""留言 over the stored limit are refused with the limit named; ID and phone
numbers in a 留言 are masked for staff who do not answer 留言 (API and console)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.feedback.answers import MAX_MESSAGE
from bot.feedback.masking import mask_personal
from bot.models import Feedback
from tests.web.console_helpers import (
    RESIDENT,
    bearer,
    leave_message,
    log_in,
    staff_client,
    staff_settings,
)
from tests.wechat.wx import WeChatServer, text_xml

ID = "330102199001011234"
PHONE = "13812345678"
TEXT = f"我的身份证号{ID}，电话 {PHONE}，低保还没批下来"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (f"身份证{ID}", "身份证33**************34"),
        ("身份证33010219900101123X。", "身份证33**************3X。"),
        (f"电话{PHONE}", "电话138****5678"),
        ("手机 +86 138 1234 5678", "手机 138****5678"),
        ("座机0571-87654321", "座机0571******21"),
        ("卡号6222 0212 3456 7890", "卡号************7890"),
        # Numbers that are not personal stay as they are.
        ("青政办〔2024〕12号，补助1000元，2024年12月1日", "青政办〔2024〕12号，补助1000元，2024年12月1日"),
    ],
)  # fmt: skip
def test_personal_numbers_are_masked(text: str, masked: str) -> None:
    assert mask_personal(text) == masked


async def test_too_long_message_is_refused_with_the_limit(db_url: str, fake_wechat: Any) -> None:
    async with staff_client(staff_settings(db_url, fake_wechat.url)) as client:
        wechat = WeChatServer(client)
        long = "路灯坏了" * (MAX_MESSAGE // 4 + 1)
        reply = await wechat.send(text_xml(f"留言 {long}", openid=RESIDENT))
        assert f"最多 {MAX_MESSAGE} 字" in reply.text and f"{len(long)} 字" in reply.text
        assert await Feedback.all().count() == 0  # nothing stored, nothing cut
        exact = "灯" * MAX_MESSAGE
        ok = await wechat.send(text_xml(f"留言 {exact}", openid=RESIDENT))
        assert "已收到" in ok.text
        assert (await Feedback.get()).text == exact


async def test_api_masks_numbers_for_roles_that_do_not_answer(
    db_url: str, fake_wechat: Any
) -> None:
    async with staff_client(staff_settings(db_url, fake_wechat.url)) as client:
        await leave_message(client, TEXT)

        async def text_for(token: str) -> str:
            resp = await client.get("/api/v1/admin/feedback", headers=bearer(token))
            return str((await resp.json())["items"][0]["text"])

        for handler in ("tok-editor-7f3a9c2e5b8d1f4a", "tok-reviewer-7f3a9c2e5b8d1f4a"):
            assert ID in await text_for(handler) and PHONE in await text_for(handler)
        shown = await text_for("tok-publisher-7f3a9c2e5b8d1f4a")
        assert ID not in shown and PHONE not in shown
        assert "33**************34" in shown and "138****5678" in shown
        assert (await Feedback.get()).text.endswith(TEXT)  # stored whole for those who answer


async def test_console_masks_numbers_for_roles_that_do_not_answer(
    db_url: str, fake_wechat: Any
) -> None:
    async with staff_client(staff_settings(db_url, fake_wechat.url)) as client:
        await leave_message(client, TEXT)
        await log_in(client, "tok-publisher-7f3a9c2e5b8d1f4a")
        page = await (await client.get("/admin/feedback")).text()
        assert "138****5678" in page and PHONE not in page and ID not in page
    async with staff_client(staff_settings(db_url, fake_wechat.url)) as client:
        await log_in(client, "tok-editor-7f3a9c2e5b8d1f4a")
        page = await (await client.get("/admin/feedback")).text()
        assert PHONE in page and ID in page
