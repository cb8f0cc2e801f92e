"""Residents' contacts beyond WeChat: record with consent, look up, stop a channel.

Every change to a contact goes through these functions (chat, the H5 page,
the admin API, TD replies and unsubscribe links alike).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from bot import audit, privacy
from bot.audit import Actor
from bot.contacts.models import Contact
from bot.errors import Invalid, NotFound, Unavailable
from bot.push.clock import utcnow

MAINLAND = re.compile(r"(?:\+?86)?[ -]?(1[3-9]\d)[ -]?(\d{4})[ -]?(\d{4})")
EMAIL = re.compile(r"[^@\s]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,24}")


def normalise_phone(raw: str) -> str:
    """An 11-digit mainland mobile number, ``+86`` optional → ``+8613812345678``."""
    match = MAINLAND.fullmatch(raw.strip())
    if not match:
        raise Invalid("invalid_phone", "手机号应为 11 位大陆手机号码（可带 +86）")
    return "+86" + "".join(match.groups())


def normalise_email(raw: str) -> str:
    value = raw.strip()
    if not EMAIL.fullmatch(value):
        raise Invalid("invalid_email", "电子邮箱格式不正确")
    name, _, domain = value.partition("@")
    return f"{name}@{domain.lower()}"


@dataclass(frozen=True, slots=True)
class Reach:
    """A resident's usable contacts (decrypted, for one send)."""

    phone: str | None
    email: str | None


async def record(
    openid: str,
    *,
    phone: str | None = None,
    email: str | None = None,
    source: str,
    verified: bool = False,
    now: datetime | None = None,
) -> Contact:
    """Store a phone and/or email the resident consented to; a new value clears a stop."""
    now = now or utcnow()
    update: dict[str, Any] = {"source": source}
    if phone is not None:
        number = normalise_phone(phone)
        update.update(
            phone=privacy.encrypt(number),
            phone_lookup=privacy.lookup_hash(number),
            phone_consent_at=now,
            phone_verified_at=now if verified else None,
            sms_stopped_at=None,
            sms_stop_reason=None,
        )
    if email is not None:
        address = normalise_email(email)
        update.update(
            email=privacy.encrypt(address),
            email_lookup=privacy.lookup_hash(address.lower()),
            email_consent_at=now,
            email_stopped_at=None,
        )
    contact, _ = await Contact.update_or_create(defaults=update, openid=openid)
    return contact


async def stop_sms(*, openid: str | None = None, phone: str | None = None, reason: str) -> int:
    """Stop SMS at once (TD reply, blacklisted or bad number); returns rows changed."""
    qs = Contact.filter(sms_stopped_at__isnull=True)
    if openid is not None:
        qs = qs.filter(openid=openid)
    elif phone is not None:
        qs = qs.filter(phone_lookup=privacy.lookup_hash(normalise_phone(phone)))
    else:
        return 0
    return await qs.update(sms_stopped_at=utcnow(), sms_stop_reason=reason[:64])


async def stop_email(openid: str) -> int:
    return await Contact.filter(openid=openid, email_stopped_at__isnull=True).update(
        email_stopped_at=utcnow()
    )


def _usable(channel: str) -> Any:
    if channel == "sms":
        return Contact.filter(
            phone__isnull=False, phone_consent_at__isnull=False, sms_stopped_at__isnull=True
        )
    return Contact.filter(
        email__isnull=False, email_consent_at__isnull=False, email_stopped_at__isnull=True
    )


async def count_reachable(openids: Any, channel: str) -> int:
    """How many of ``openids`` (a list or an ``openid`` subquery) ``channel`` can reach."""
    return int(await _usable(channel).filter(openid__in=openids).count())


async def reachable(openids: list[str], channel: str) -> set[str]:
    """Residents among ``openids`` with a consented, not stopped contact for ``channel``."""
    return {
        str(o)
        for o in await _usable(channel).filter(openid__in=openids).values_list("openid", flat=True)
    }


async def reach(openid: str) -> Reach:
    contact = await Contact.get_or_none(openid=openid)
    if contact is None:
        return Reach(None, None)
    phone = privacy.decrypt(contact.phone) if contact.phone else None
    email = privacy.decrypt(contact.email) if contact.email else None
    return Reach(phone, email)


def masked(contact: Contact | None) -> dict[str, Any]:
    """What staff see: masked values and the consent and stop dates."""
    if contact is None:
        return {"phone": None, "email": None}
    phone = privacy.decrypt(contact.phone) if contact.phone else None
    email = privacy.decrypt(contact.email) if contact.email else None
    return {
        "phone": privacy.mask_phone(phone) if phone else None,
        "email": privacy.mask_email(email) if email else None,
        "phone_consent_at": _iso(contact.phone_consent_at),
        "phone_verified": contact.phone_verified_at is not None,
        "sms_stopped_at": _iso(contact.sms_stopped_at),
        "sms_stop_reason": contact.sms_stop_reason,
        "email_consent_at": _iso(contact.email_consent_at),
        "email_stopped_at": _iso(contact.email_stopped_at),
        "source": contact.source,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def record_from_staff(openid: str, data: Any, who: Actor) -> dict[str, Any]:
    """Contacts a resident gave staff on paper (``PUT …/subscribers/{openid}/contact``)."""
    from bot.models import Subscriber

    if not isinstance(data, dict):
        raise Invalid("invalid", "请求体应为 JSON 对象")
    if data.get("consent") is not True:
        raise Invalid("consent_required", "需要居民本人同意（consent: true）才能登记联系方式")
    phone, email = data.get("phone"), data.get("email")
    if phone is None and email is None:
        raise Invalid("invalid", "请提供 phone 或 email")
    for name, value in (("phone", phone), ("email", email)):
        if value is not None and not isinstance(value, str):
            raise Invalid("invalid", f"{name} 应为字符串")
    if not await Subscriber.exists(openid=openid):
        raise NotFound("not_found", "没有这个居民")
    async with in_transaction() as conn:
        contact = await record(openid, phone=phone, email=email, source="staff")
        shown = masked(contact)
        await audit.record(who, "contact.record", "subscriber", openid, conn=conn,
                           phone=shown["phone"], email=shown["email"])  # fmt: skip
    return {"openid": openid, **shown}


PROFILE_SECONDS = 24 * 3600  # how long the H5 profile link from chat stays valid


def profile_link(base_url: str, openid: str, now: float | None = None) -> str:
    """The resident's own profile page: openid and expiry signed with the privacy key."""
    expires = int((now or time.time()) + PROFILE_SECONDS)
    return f"{base_url}/me/{privacy.sign('profile', f'{openid}|{expires}')}"


def profile_openid(token: str) -> str | None:
    """Whose profile link this is, or None when forged or expired."""
    try:
        value = privacy.unsign("profile", token)
    except Unavailable:
        return None
    openid, _, expires = (value or "").rpartition("|")
    if not openid or not expires.isdigit() or int(expires) < time.time():
        return None
    return openid
