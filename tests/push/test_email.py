"""Email campaigns through a real SMTP server (aiosmtpd on loopback, STARTTLS
required, AUTH only over TLS): consent decides who gets mail, an unknown
mailbox fails permanently and stops email for that resident, every message
carries List-Unsubscribe (one-click, RFC 8058), and that link stops email at
once."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import AsyncIterator, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bot.catalog.models import Topic
from bot.contacts import record
from bot.contacts.models import Contact
from bot.keys import SETTINGS
from bot.push import campaigns
from bot.push.campaigns import Actor
from bot.push.models import Campaign, CampaignState, Delivery
from bot.push.runtime import push_runtime, wake
from bot.services import Services, open_services
from bot.web import routes
from bot.wechat.fake import FakeWeChat
from tests.processes import free_port
from tests.push.conftest import add_residents, eventually, fake_ids, push_settings

KEY = Fernet.generate_key().decode()


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = tmp / "smtp.crt", tmp / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))  # fmt: skip
    return cert_path, key_path


class Mailbox:
    """What the SMTP server accepted; ``nobody@…`` does not exist."""

    def __init__(self) -> None:
        self.mails: list[tuple[EmailMessage, bool]] = []  # (message, came over TLS)

    async def handle_RCPT(self, server: Any, session: Session, envelope: Envelope,
                          address: str, options: list[str]) -> str:  # fmt: skip
        if address.startswith("nobody@"):
            return "550 5.1.1 <nobody@example.cn>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        mail = message_from_bytes(envelope.content, policy=policy.default)  # type: ignore[arg-type]
        self.mails.append((mail, session.ssl is not None))  # type: ignore[arg-type]
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m, _ in self.mails if m["To"] == address]


def _auth(
    server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.login == b"notice" and data.password == b"pw"
    return AuthResult(success=ok)


@pytest.fixture
def smtp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Mailbox, int]]:
    cert, key = _self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # our client trusts this server, as a CA would
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port, tls_context=context,
                            require_starttls=True, auth_required=True, authenticator=_auth)  # fmt: skip
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture
async def mail_services(
    db_url: str, fake_wechat: FakeWeChat, smtp: tuple[Mailbox, int]
) -> AsyncIterator[Services]:
    email = {"host": "127.0.0.1", "port": smtp[1], "username": "notice", "password": "pw",
             "from": "青山县人民政府 <notice@qingshan.gov.cn>", "starttls": True}  # fmt: skip
    settings = push_settings(db_url, fake_wechat.url, {"email": email, "privacy": {"key": KEY}})
    async with open_services(settings) as svc:
        await Topic.create(id="relief", name="救助")
        yield svc


async def _send(services: Services, title: str) -> dict[str, Any]:
    campaign = await campaigns.create(
        {"title": title, "text": "城乡低保标准每人每月提高60元。", "channel": "email",
         "audience": {"topics": ["relief"]}}, Actor("小王", "editor"), services.settings,
    )  # fmt: skip
    await campaigns.approve(campaign.id, Actor("老张", "reviewer"))
    await wake(services)

    async def finished() -> Campaign | None:
        c = await Campaign.get(id=campaign.id)
        return c if c.state in (CampaignState.done, CampaignState.failed) else None

    return await campaigns.report(await eventually(finished))


async def test_email_reaches_consenting_addresses_over_starttls_with_one_click_unsubscribe(
    mail_services: Services, smtp: tuple[Mailbox, int]
) -> None:
    box = smtp[0]
    await add_residents(fake_ids(1, 4), topics=["relief"])
    await record("o-fake-000001", email="zhang@example.cn", source="staff")
    await record("o-fake-000002", email="li@example.cn", source="staff")
    await record("o-fake-000003", email="nobody@example.cn", source="staff")
    async with push_runtime(mail_services):
        report = await _send(mail_services, "低保标准提高")
    assert report["counts"] == {"pending": 0, "sent": 2, "failed": 1, "skipped": 1}
    assert report["skipped_reasons"] == {"没有同意接收邮件的邮箱": 1}
    assert report["errors"] == {"550": 1}
    assert all(tls for _, tls in box.mails)
    (mail,) = box.to("zhang@example.cn")
    assert mail["Subject"] == "低保标准提高"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = mail["List-Unsubscribe"].strip().strip("<>")
    assert link.startswith("http://policy.test/unsubscribe/email/")
    body = mail.get_content()
    assert "城乡低保标准" in body and link in body
    assert (await Contact.get(openid="o-fake-000003")).email_stopped_at is not None
    assert "zhang@example.cn" not in ((await Contact.get(openid="o-fake-000001")).email or "")

    # The mail client's one-click unsubscribe: a POST to the link stops email at once.
    app = web.Application()
    app[SETTINGS] = mail_services.settings
    routes.channels(app)
    path = link.removeprefix("http://policy.test")
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        page = await client.get(path)  # a GET (a scanner) changes nothing
        assert page.status == 200 and "确认退订" in await page.text()
        assert (await Contact.get(openid="o-fake-000001")).email_stopped_at is None
        done = await client.post(path, data="List-Unsubscribe=One-Click")
        assert done.status == 200 and "已退订" in await done.text()
        forged = await client.post(path[:-3] + "abc")
        assert forged.status == 404
    async with push_runtime(mail_services):
        second = await _send(mail_services, "第二条通知")
    assert second["counts"]["sent"] == 1 and len(box.to("zhang@example.cn")) == 1
    assert len(box.to("li@example.cn")) == 2
    assert await Delivery.filter(state="sent", channel="email").count() == 3
