"""Shared by the participation tests: an app with staff tokens and a privacy key, chat."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from bot.config import Settings
from tests.web.console_helpers import staff_settings
from tests.wechat.wx import WeChatServer, text_xml

PRIVACY_KEY = "q0D9Yx8b0o4GQq1k6pQ0V6rA5m2h8JcQm3Jt2YxqZ1c="
ID_NUMBER = "11010519491231002X"  # a valid GB 11643 check digit
PHONE = "13812345678"


def settings_for(db_url: str, fake_url: str, **sections: Any) -> Settings:
    """Staff tokens, a privacy key, and WeChat's web authorisation served by the stand-in."""
    participation = {
        "oauth_authorize_url": f"{fake_url}connect/oauth2/authorize",
        **sections.pop("participation", {}),
    }
    return staff_settings(
        db_url, fake_url, privacy={"key": PRIVACY_KEY}, participation=participation, **sections
    )


async def say(client: TestClient, text: str, openid: str, msg_id: str | None = None) -> str:
    reply = await WeChatServer(client).send(text_xml(text, openid=openid, msg_id=msg_id))
    assert reply.status == 200, reply.body
    return reply.text


def application(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "applicant": {"type": "公民", "name": "张三", "id_type": "居民身份证",
                      "id_number": ID_NUMBER, "phone": PHONE, "address": "青山县城关镇解放路 1 号"},
        "description": "2025 年城关镇危房改造补助资金发放名单",
        "purpose": "核实本户补助", "delivery": "邮寄",
    }  # fmt: skip
    body.update(changes)
    return body
