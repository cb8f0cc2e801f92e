"""Email over SMTP (aiosmtplib, STARTTLS) to residents who gave an address with consent.

Every message carries ``List-Unsubscribe`` with a signed link and
``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058), so mail
clients offer a one-click unsubscribe that stops email at once. The
``Message-ID`` names the delivery; SMTP has no de-duplication, so, as for
SMS, each acceptance is recorded before the sender takes its next job.
SMTP's own split decides the fate: 5xx permanent, 4xx transient, 421/450/451
a server asking us to slow down.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import ClassVar

import aiosmtplib

from bot import contacts, privacy
from bot.config import Settings
from bot.push.channels.base import DeliveryChannel, Failure, Fate, Item, RunInfo, Skip
from bot.push.message import tracked_link
from bot.push.models import Channel

SLOW_DOWN = frozenset({421, 450, 451})
UNKNOWN_MAILBOX = frozenset({550, 551, 553})


def unsubscribe_url(settings: Settings, openid: str) -> str:
    return f"{settings.server.base_url}/unsubscribe/email/{privacy.sign('unsubscribe', openid)}"


class EmailChannel(DeliveryChannel):
    name = Channel.email.value
    bucket: ClassVar[str] = "smtp"
    deduplicates: ClassVar[bool] = False

    @classmethod
    def configured(cls, settings: Settings) -> bool:
        return settings.email.enabled

    def rate(self) -> float:
        return self.settings.email.rate_per_second

    async def eligible(
        self, run: RunInfo, items: list[Item], now: datetime
    ) -> tuple[list[Item], list[Skip]]:
        reachable = await contacts.reachable([i.openid for i in items], "email")
        keep = [i for i in items if i.openid in reachable]
        skipped = [i for i in items if i.openid not in reachable]
        return keep, [Skip(skipped, "没有同意接收邮件的邮箱")] if skipped else []

    def compose(self, run: RunInfo, item: Item, address: str) -> EmailMessage:
        cfg, msg = self.settings.email, run.message
        unsubscribe = unsubscribe_url(self.settings, item.openid)
        domain = parseaddr(cfg.from_)[1].partition("@")[2] or "policybot.local"
        mail = EmailMessage()
        mail["From"] = cfg.from_
        mail["To"] = address
        mail["Subject"] = msg.title
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = f"<policybot-d{item.id}@{domain}>"
        mail["List-Unsubscribe"] = f"<{unsubscribe}>"
        mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        lines = [msg.title, "", msg.text.strip()]
        link = tracked_link(self.settings, msg.url, item.id)
        if link:
            lines += ["", f"详情：{link}"]
        lines += ["", "——", f"不想再收到此类邮件？退订：{unsubscribe}"]
        mail.set_content("\n".join(lines))
        return mail

    async def send(self, run: RunInfo, items: list[Item]) -> str | None:
        (item,) = items
        address = (await contacts.reach(item.openid)).email
        if address is None:
            raise aiosmtplib.SMTPRecipientRefused(550, "no address on file", "")
        cfg = self.settings.email
        mail = self.compose(run, item, address)
        await aiosmtplib.send(
            mail,
            hostname=cfg.host,
            port=cfg.port,
            username=cfg.username or None,
            password=cfg.password.get_secret_value() or None,
            start_tls=cfg.starttls,
            timeout=20,
        )
        return str(mail["Message-ID"])[:64]

    def classify(self, exc: Exception) -> Failure | None:
        if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
            return Failure(Fate.fatal, exc.code, f"SMTP {exc.code}: {exc.message}"[:255])
        if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
            exc = exc.recipients[0]
        if isinstance(exc, aiosmtplib.SMTPResponseException):
            message = f"SMTP {exc.code}: {exc.message}"[:255]
            if exc.code in SLOW_DOWN:
                return Failure(Fate.rate_limited, exc.code, message, delay=30.0)
            if 400 <= exc.code < 500:
                return Failure(Fate.transient, exc.code, message)
            about = "邮箱不存在" if exc.code in UNKNOWN_MAILBOX else None
            return Failure(Fate.permanent, exc.code, message, about_resident=about)
        if isinstance(exc, (aiosmtplib.SMTPException, OSError, TimeoutError)):
            return Failure(Fate.transient, None, f"SMTP: {type(exc).__name__}: {exc}"[:255])
        return None

    async def refused(self, item: Item, failure: Failure) -> None:
        await contacts.stop_email(item.openid)
