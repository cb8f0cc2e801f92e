"""The console's policy editor takes the 政策找人 rule as the YAML a content file holds,
checked by the same converter: a bad rule is refused in words with what was typed kept."""

from __future__ import annotations

import html
from typing import Any

from bot.catalog.models import Policy
from tests.web.console_helpers import csrf_of, log_in, staff_client, staff_settings

PUBLISHER = "tok-publisher-7f3a9c2e5b8d1f4a"
FORM = {
    "id": "qmf-2025-9-newborn-gift", "title": "青山县新生儿礼包发放办法", "issuer": "青山县卫健局",
    "written_on": "2025-03-01", "validity": "有效", "disclosure": "主动公开", "body": "一、对象",
}  # fmt: skip
RULE = """all:
  - newborn: true
  - hukou: [城镇, 农村]
gives: 新生儿礼包一份
apply: 持出生医学证明到卫生院领取
where: 户籍所在地卫生院
apply_by: 2025-12-31
"""


async def test_editor_keeps_an_eligibility_rule_and_refuses_a_bad_one(
    db_url: str, fake_wechat: Any
) -> None:
    async with staff_client(staff_settings(db_url, fake_wechat.url)) as client:
        csrf = await log_in(client, PUBLISHER)
        assert "适用条件（政策找人" in await (await client.get("/admin/policies/new")).text()

        unknown = "all:\n  - shoe_size: {min: 40}\ngives: 鞋\n"
        bad = await client.post(
            "/admin/policies/new", data={**FORM, "eligibility": unknown, "csrf": csrf}
        )
        page = html.unescape(await bad.text())
        assert bad.status == 422 and "适用条件" in page and "shoe_size" in page
        assert unknown in page  # what was typed is kept
        broken = "all:\n  - age: {min: 80\ngives: x\n"
        bad = await client.post(
            "/admin/policies/new", data={**FORM, "eligibility": broken, "csrf": csrf}
        )
        page = html.unescape(await bad.text())
        assert bad.status == 422 and "不是有效的 YAML" in page and broken in page
        assert not await Policy.exists(id=FORM["id"])

        saved = await client.post(
            "/admin/policies/new", data={**FORM, "eligibility": RULE, "csrf": csrf}
        )
        assert saved.status == 200 and "草稿已保存" in await saved.text()
        stored = (await Policy.get(id=FORM["id"])).eligibility
        assert stored == {
            "all": [{"newborn": True}, {"hukou": ["城镇", "农村"]}],
            "gives": "新生儿礼包一份",
            "apply": "持出生医学证明到卫生院领取",
            "where": "户籍所在地卫生院",
            "apply_by": "2025-12-31",
        }

        editor = await (await client.get(f"/admin/policies/{FORM['id']}")).text()
        shown = html.unescape(editor.split('name="eligibility"', 1)[1].split("</textarea>")[0])
        assert "newborn: true" in shown and "apply_by: '2025-12-31'" in shown
        again = await client.post(  # saved as shown: the same rule
            f"/admin/policies/{FORM['id']}",
            data={**FORM, "eligibility": shown.split(">", 1)[1], "csrf": csrf_of(editor)},
        )
        assert again.status == 200
        assert (await Policy.get(id=FORM["id"])).eligibility == stored

        cleared = await client.post(  # an empty rule takes the policy out of 政策找人
            f"/admin/policies/{FORM['id']}", data={**FORM, "eligibility": "", "csrf": csrf}
        )
        assert cleared.status == 200
        assert (await Policy.get(id=FORM["id"])).eligibility is None
