"""Test sends go only to the sender's own bound WeChat or registered testers, 10 a day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from bot.accounts import passwords
from bot.accounts import services as accounts
from bot.accounts.models import Account
from bot.audit import Actor
from bot.handlers import handle
from bot.handlers.types import Incoming, TextReply
from bot.models import AuditEntry
from bot.push.campaigns import DAILY_TEST_SENDS
from bot.services import Services
from bot.wechat.fake import FakeWeChat
from tests.push.conftest import EDITOR, EDITOR2, add_residents, eventually, fake_ids

STAFF_PHONE = "o-fake-000005"
ADMIN = Actor("管理员", "admin")


async def _say(services: Services, text: str, openid: str = STAFF_PHONE) -> str:
    """The message goes through the resident pipeline, as from the callback."""
    _, reply = await handle(services, Incoming("text", openid, datetime.now(UTC), text))
    assert isinstance(reply, TextReply)
    return reply.text


async def _test_send(api: TestClient, cid: int, headers: dict[str, str], **body: Any) -> Any:
    resp = await api.post(f"/api/v1/admin/campaigns/{cid}/test-send", json=body, headers=headers)
    return resp.status, await resp.json()


async def test_test_send_reaches_only_own_wechat_and_testers(
    api: TestClient, runtime: Any, services: Services, fake_wechat: FakeWeChat
) -> None:
    await add_residents(fake_ids(1, 10), topics=["relief"])
    editor = await Account.create(name="小王", role="editor", must_change_password=False,
                                  password_hash=passwords.hash_password("Qingshan-2024-test"))  # fmt: skip
    created = await api.post("/api/v1/admin/campaigns", headers=EDITOR, json={
        "title": "低保标准提高", "text": "城乡低保标准提高。", "channel": "template",
        "audience": {"topics": ["relief"]}})  # fmt: skip
    cid = (await created.json())["id"]

    status, body = await _test_send(api, cid, EDITOR)
    assert status == 403 and body["error"]["code"] == "not_bound"
    status, body = await _test_send(api, cid, EDITOR, openids=fake_ids(1, 10))  # residents
    assert status == 403 and "o-fake-000001" in body["error"]["message"]

    # Binding: a wrong code, then the console's code, which works once.
    assert "无效或已过期" in await _say(services, "绑定 12345678")
    code = await accounts.new_binding_code(editor, Actor("小王", "editor"))
    assert "小王" in await _say(services, f"绑定 {code}")
    assert "无效或已过期" in await _say(services, f"绑定 {code}", openid="o-fake-000006")
    assert (await Account.get(id=editor.id)).wechat_openid == STAFF_PHONE

    status, body = await _test_send(api, cid, EDITOR)
    assert status == 202 and body["recipients"] == 1
    await eventually(lambda: _sent_to(fake_wechat, STAFF_PHONE, 1))
    # Another editor has no bound WeChat: the first editor's phone is not theirs to use.
    status, _ = await _test_send(api, cid, EDITOR2, openids=[STAFF_PHONE])
    assert status == 403

    await accounts.add_tester("县长办秘书", "o-fake-000009", ADMIN)
    status, body = await _test_send(api, cid, EDITOR2, openids=["县长办秘书"])
    assert status == 202 and body["recipients"] == 1
    await eventually(lambda: _sent_to(fake_wechat, "o-fake-000009", 1))

    for _ in range(DAILY_TEST_SENDS - 1):
        assert (await _test_send(api, cid, EDITOR))[0] == 202
    status, body = await _test_send(api, cid, EDITOR)
    assert status == 403 and body["error"]["code"] == "rate_limited"
    sends = await AuditEntry.filter(action="campaign.test_send", actor="小王").count()
    assert sends == DAILY_TEST_SENDS
    residents = [o for o in fake_ids(1, 10) if o not in (STAFF_PHONE, "o-fake-000009")]
    assert not any(fake_wechat.messages(o) for o in residents)  # no resident got a test


async def test_binding_codes_expire_and_cannot_be_guessed(services: Services) -> None:
    editor = await Account.create(name="小李", role="editor", password_hash="x")
    code = await accounts.new_binding_code(editor, Actor("小李", "editor"))
    await Account.filter(id=editor.id).update(
        binding_expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    assert "无效或已过期" in await _say(services, f"绑定 {code}")
    code = await accounts.new_binding_code(editor, Actor("小李", "editor"))
    for guess in range(4):
        assert "无效" in await _say(services, f"绑定 {guess:08d}", openid="o-guesser")
    assert "无效" in await _say(services, "绑定 00000009", openid="o-guesser")
    assert "15 分钟后再试" in await _say(services, f"绑定 {code}", openid="o-guesser")
    assert (await Account.get(id=editor.id)).wechat_openid is None
    assert "小李" in await _say(services, f"绑定 {code}")  # the holder, from their own WeChat


async def _sent_to(fake: FakeWeChat, openid: str, count: int) -> bool:
    return len(fake.messages(openid)) == count
