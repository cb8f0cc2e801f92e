"""Residents' contacts: given in chat with a code by SMS, or by staff through the
admin API with consent; encrypted at rest, masked wherever staff see them."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.fernet import Fernet

from bot.contacts.models import Contact
from bot.handlers import handle
from bot.handlers.types import Incoming, TextReply
from bot.keys import SERVICES, SETTINGS
from bot.models import AuditEntry, Subscriber
from bot.services import Services, open_services
from bot.sms.fake import FakeSms
from bot.web import routes
from bot.web.errors import json_errors
from bot.wechat.fake import FakeWeChat
from tests.push.conftest import EDITOR, REVIEWER, push_settings

OPENID = "o-resident-1"


@pytest.fixture
async def services(
    db_url: str, fake_wechat: FakeWeChat, fake_sms: FakeSms
) -> AsyncIterator[Services]:
    cfg = fake_sms.config
    sms = {"secret_id": cfg.secret_id, "secret_key": cfg.secret_key, "sdk_app_id": cfg.sdk_app_id,
           "sign_name": cfg.sign_names[0], "template_id": "100001",
           "verify_template_id": "100002", "endpoint": fake_sms.url}  # fmt: skip
    sections = {"sms": sms, "privacy": {"key": Fernet.generate_key().decode()}}
    async with open_services(push_settings(db_url, fake_wechat.url, sections)) as svc:
        await Subscriber.create(openid=OPENID, following=True)
        yield svc


async def say(services: Services, text: str) -> str:
    message = Incoming(kind="text", openid=OPENID, created_at=datetime.now(UTC), text=text)
    route, reply = await handle(services, message)
    assert isinstance(reply, TextReply) and route.startswith("contact."), route
    return reply.text


async def test_a_resident_gives_a_phone_in_chat_and_proves_it_with_a_code(
    services: Services, fake_sms: FakeSms
) -> None:
    reply = await say(services, "手机 138 1234 5678")
    assert "验证码已发送至 138****5678" in reply and "回复 TD" in reply
    (sms,) = fake_sms.messages("13812345678")
    assert sms["text"].startswith("【青山县政务】您的验证码为")
    code = re.search(r"\d{6}", sms["text"]).group()  # type: ignore[union-attr]
    assert "1 分钟后再试" in await say(services, "手机 13812345678")  # no second code at once
    assert await Contact.get_or_none(openid=OPENID) is None  # nothing recorded before the code
    wrong = "000000" if code != "000000" else "111111"
    assert await say(services, f"验证码 {wrong}") == "验证码不正确，还可尝试 4 次。"
    assert await say(services, f"验证码 {code}") == (
        "已登记手机号 138****5678。重要政策通知可通过短信送达；回复短信 TD 可退订。"
    )
    contact = await Contact.get(openid=OPENID)
    assert contact.phone_verified_at and contact.phone_consent_at and contact.source == "chat"
    assert contact.phone and "13812345678" not in contact.phone
    assert "验证码已失效" in await say(services, f"验证码 {code}")  # used once only
    assert "11 位大陆手机号" in await say(services, "手机 12345")


@pytest.fixture
async def api(services: Services) -> AsyncIterator[TestClient]:
    app = web.Application(middlewares=[json_errors])
    app[SETTINGS] = services.settings
    app[SERVICES] = services
    routes.channels(app)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


async def test_staff_record_contacts_with_consent_and_see_them_masked(api: TestClient) -> None:
    url = f"/api/v1/admin/subscribers/{OPENID}/contact"
    body = {"phone": "+8613912345678", "email": "Zhang.San@Example.CN", "consent": True}
    resp = await api.put(url, json=body, headers=EDITOR)
    assert resp.status == 200
    data = await resp.json()
    assert data["phone"] == "139****5678" and data["email"] == "Z***@example.cn"
    contact = await Contact.get(openid=OPENID)
    assert contact.source == "staff" and contact.phone_verified_at is None
    assert "13912345678" not in (contact.phone or "") + (contact.email or "")
    entry = await AuditEntry.filter(action="contact.record").first()
    assert entry is not None and "13912345678" not in str(entry.detail)
    for payload, status in [
        ({"phone": "13912345678"}, 422),  # no consent
        ({"phone": "2391234567", "consent": True}, 422),
        ({"email": "not-an-address", "consent": True}, 422),
    ]:
        resp = await api.put(url, json=payload, headers=EDITOR)
        assert resp.status == status, payload
        assert (await resp.json())["error"]["message"]
    resp = await api.put("/api/v1/admin/subscribers/o-nobody/contact", json=body, headers=EDITOR)
    assert resp.status == 404
    assert (await api.put(url, json=body, headers=REVIEWER)).status == 403
    assert (await api.put(url, json=body)).status == 401


async def test_the_h5_profile_page_from_chat_records_and_withdraws_contacts(
    services: Services, fake_sms: FakeSms
) -> None:
    reply = await say(services, "联系方式")
    link = re.search(r'href="http://policy\.test(/me/[^"]+)"', reply).group(1)  # type: ignore[union-attr]
    app = web.Application()
    app[SETTINGS] = services.settings
    app[SERVICES] = services
    routes.channels(app)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        page = await client.get(link)
        assert page.status == 200 and "未登记" in await page.text()
        sent = await client.post(link, data={"action": "phone", "phone": "13712345678"})
        assert "验证码已发送至 137****5678" in await sent.text()
        code = re.search(r"\d{6}", fake_sms.messages("13712345678")[0]["text"]).group()  # type: ignore[union-attr]
        done = await client.post(link, data={"action": "code", "code": code})
        assert "已登记手机号 137****5678" in await done.text()
        no_consent = await client.post(link, data={"action": "email", "email": "a@example.cn"})
        assert no_consent.status == 422 and (await Contact.get(openid=OPENID)).email is None
        await client.post(link, data={"action": "email", "email": "a@example.cn", "consent": "yes"})
        stopped = await client.post(link, data={"action": "stop_sms"})
        text = await stopped.text()
        assert "已停止短信通知" in text and "a***@example.cn" in text and "13712345678" not in text
        contact = await Contact.get(openid=OPENID)
        assert contact.sms_stopped_at and contact.email_consent_at and contact.source == "h5"
        forged = await client.get(link[:-4] + "abcd")
        assert forged.status == 404
