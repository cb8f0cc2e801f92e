"""Proving a phone number: a 6-digit code by SMS, typed back in chat within 5 minutes.

The code is stored as a keyed hash, never in clear; one code a minute per
resident, five wrong tries and the code is void. Confirming records the
number with consent (the resident asked for SMS notices by typing it).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import aiohttp

from bot import privacy
from bot.config import SmsSettings
from bot.contacts import normalise_phone, record
from bot.contacts.models import ContactCode
from bot.errors import Conflict, Invalid, Unavailable
from bot.push.clock import utcnow
from bot.sms.tencent import SmsError, TencentSms

VALID = timedelta(minutes=5)
RESEND_AFTER = timedelta(seconds=60)
MAX_TRIES = 5


def _hash(openid: str, code: str) -> str:
    return privacy.lookup_hash(f"code:{openid}:{code}")


async def send_code(
    openid: str, raw_phone: str, sms: SmsSettings, http: aiohttp.ClientSession,
    now: datetime | None = None,
) -> str:  # fmt: skip
    """Send a code to the number; returns it masked for the reply."""
    if not (sms.enabled and sms.verify_template_id):
        raise Unavailable("sms_off", "暂未开通短信通知。")
    phone = normalise_phone(raw_phone)
    now = now or utcnow()
    earlier = await ContactCode.get_or_none(openid=openid)
    if earlier is not None and now - earlier.sent_at < RESEND_AFTER:
        raise Conflict("too_soon", "验证码刚刚发送过，请 1 分钟后再试。")
    code = f"{secrets.randbelow(10**6):06d}"
    minutes = str(int(VALID.total_seconds() // 60))
    try:
        (status,) = await TencentSms(sms, http).send(
            [phone], sms.verify_template_id, [code, minutes]
        )
    except SmsError as exc:
        raise Unavailable("sms_failed", "短信发送失败，请稍后再试。") from exc
    if status.code != "Ok":
        if status.code.startswith("InvalidParameterValue"):
            raise Invalid("invalid_phone", "该手机号无法接收短信，请检查号码。")
        raise Unavailable("sms_refused", "该号码今日接收短信过多或暂时无法接收，请稍后再试。")
    await ContactCode.update_or_create(
        defaults={"phone": privacy.encrypt(phone), "code_hash": _hash(openid, code),
                  "expires_at": now + VALID, "tries": 0, "sent_at": now},
        openid=openid,
    )  # fmt: skip
    return privacy.mask_phone(phone)


async def confirm_code(openid: str, code: str, now: datetime | None = None) -> str:
    """Check the code; on success record the phone with consent and return it masked."""
    now = now or utcnow()
    pending = await ContactCode.get_or_none(openid=openid)
    if pending is None or pending.expires_at < now or pending.tries >= MAX_TRIES:
        raise Invalid("code_expired", "验证码已失效，请重新发送“手机 号码”获取。")
    if not secrets.compare_digest(pending.code_hash, _hash(openid, code.strip())):
        await ContactCode.filter(openid=openid).update(tries=pending.tries + 1)
        left = MAX_TRIES - pending.tries - 1
        raise Invalid(
            "code_wrong", f"验证码不正确，还可尝试 {left} 次。" if left else "验证码已失效。"
        )
    phone = privacy.decrypt(pending.phone)
    await record(openid, phone=phone, source="chat", verified=True, now=now)
    await ContactCode.filter(openid=openid).delete()
    return privacy.mask_phone(phone)
