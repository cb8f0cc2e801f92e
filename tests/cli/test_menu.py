"""`policybot menu push` / `menu show` against the WeChat stand-in, which refuses
a menu beyond WeChat's limits with WeChat's own codes."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from bot.cli.menu import _push, _show
from bot.config import Settings
from bot.wechat.fake import FakeWeChat
from bot.wechat.menu import menu_problems
from tests.conftest import CONTENT, make_settings
from tests.wechat.test_fake import Raw, raw  # noqa: F401  (the fixture)


@pytest.fixture
def settings(db_url: str, fake_wechat: FakeWeChat) -> Settings:
    return make_settings(db_url, fake_wechat.url)


async def test_push_sends_the_content_menu_and_show_prints_it(
    settings: Settings, fake_wechat: FakeWeChat, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _push(settings, CONTENT, dry_run=False) == 0
    assert fake_wechat.menu is not None
    first = fake_wechat.menu["button"][0]
    assert first["name"] == "政策查询" and "type" not in first
    latest = first["sub_button"][0]
    assert latest == {"type": "view", "name": "最新政策", "url": "http://policy.test/policies"}
    assert all("reply" not in sub for b in fake_wechat.menu["button"] for sub in b["sub_button"])
    assert "已推送菜单：3 个一级菜单" in capsys.readouterr().out

    assert await _show(settings) == 0
    shown = capsys.readouterr().out
    assert "最新政策" in shown and "http://policy.test/policies" in shown


async def test_show_says_when_wechat_has_no_menu(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _show(settings) == 1
    assert "46003" in capsys.readouterr().err


async def test_a_menu_beyond_the_limits_is_refused_before_the_call(
    settings: Settings, fake_wechat: FakeWeChat, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    buttons = "".join(
        f"  - name: 菜单{i}\n    type: click\n    key: K{i}\n    reply: 好\n" for i in range(4)
    )
    (content / "menu.yaml").write_text(f"button:\n{buttons}", encoding="utf-8")
    assert await _push(settings, content, dry_run=False) == 1
    err = capsys.readouterr().err
    assert "1 至 3 个一级菜单" in err and "未推送" in err
    assert fake_wechat.menu is None  # WeChat was never called


def _menu(*buttons: dict[str, Any]) -> dict[str, Any]:
    return {"button": list(buttons)}


CLICK = {"type": "click", "name": "查询", "key": "K"}


@pytest.mark.parametrize(
    ("menu", "code"),
    [
        (_menu(*[CLICK] * 4), 40016),
        (_menu({**CLICK, "type": "nonsense"}), 40017),
        (_menu({**CLICK, "name": "政策查询办事"}), 40018),  # 18 bytes
        (_menu({**CLICK, "key": "K" * 129}), 40019),
        (_menu({"type": "view", "name": "网页", "url": "http://x/" + "a" * 1020}), 40020),
        (_menu({"name": "更多", "sub_button": [CLICK] * 6}), 40023),
        (_menu({"name": "更多", "sub_button": [{**CLICK, "type": "x"}]}), 40024),
        (_menu({"name": "更多", "sub_button": [{**CLICK, "name": "很" * 21}]}), 40025),  # 63 bytes
        (_menu({"name": "更多", "sub_button": [{**CLICK, "key": ""}]}), 40026),
    ],
)
async def test_stand_in_refuses_like_wechat(raw: Raw, menu: dict[str, Any], code: int) -> None:  # noqa: F811
    assert [p.code for p in menu_problems(menu)][:1] == [code]
    answer = await raw.post("menu/create", menu)
    assert answer["errcode"] == code
    assert raw.fake.menu is None


async def test_stand_in_takes_names_up_to_the_byte_limits(raw: Raw) -> None:  # noqa: F811
    menu = _menu(
        {"name": "政策查询a", "sub_button": [{**CLICK, "name": "很" * 20}] * 5},  # 13 and 60 bytes
        {**CLICK, "name": "abcdefghijklmnop"},  # 16 bytes
    )
    assert (await raw.post("menu/create", menu))["errcode"] == 0
