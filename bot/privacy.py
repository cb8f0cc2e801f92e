"""Personal data at rest: encrypted with Fernet, looked up by a keyed hash, masked for staff.

The key (``privacy.key``, or ``POLICYBOT_PRIVACY_KEY``) lives in config or the
environment, never in the database. Several keys separated by commas rotate:
the first encrypts, any of them decrypts. Phone numbers are a small space
(about 10^9 in use), so lookups go by an HMAC keyed with the same secret, never
by a plain hash that anyone could reverse by trying every number.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from bot.errors import Unavailable

_keys: tuple[str, MultiFernet, bytes] | None = None


def configure(key: str) -> None:
    """Use ``key`` (``privacy.key``) from now on; called once at start-up."""
    global _keys
    if not key:
        _keys = None
        return
    parts = [k.strip() for k in key.split(",") if k.strip()]
    fernets = MultiFernet([Fernet(k.encode()) for k in parts])
    lookup = hmac.new(base64.urlsafe_b64decode(parts[0]), b"policybot-lookup", "sha256").digest()
    _keys = (key, fernets, lookup)


def _need() -> tuple[str, MultiFernet, bytes]:
    if _keys is None:
        raise Unavailable("privacy_key_missing", "未配置 privacy.key，无法保存个人信息")
    return _keys


def encrypt(text: str) -> str:
    return _need()[1].encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _need()[1].decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise Unavailable(
            "privacy_key_wrong", "个人信息无法解密：privacy.key 与加密时不同"
        ) from exc


def lookup_hash(text: str) -> str:
    """A stable keyed hash to find a row by a phone or email without decrypting every row."""
    return hmac.new(_need()[2], text.encode(), hashlib.sha256).hexdigest()


def valid_key(key: str) -> bool:
    try:
        for part in key.split(","):
            Fernet(part.strip().encode())
    except ValueError:
        return False
    return True


def mask_phone(phone: str) -> str:
    """``+8613812345678`` → ``138****5678``."""
    digits = phone.removeprefix("+86")
    return digits[:3] + "****" + digits[-4:] if len(digits) >= 8 else "****"


def mask_email(email: str) -> str:
    """``zhangsan@example.com`` → ``z***@example.com``."""
    name, _, domain = email.partition("@")
    return f"{name[:1]}***@{domain}" if domain else "***"


def mask_id_number(number: str) -> str:
    """A 居民身份证号: the region (first 6) and the check digits' last 4 stay, the birth date goes."""
    return number[:6] + "*" * max(0, len(number) - 10) + number[-4:] if len(number) > 10 else "****"


def sign(purpose: str, value: str) -> str:
    """A URL-safe token binding ``value`` to ``purpose`` (unsubscribe and open links)."""
    mac = hmac.new(_need()[2], f"{purpose}:{value}".encode(), hashlib.sha256).digest()[:12]
    raw = base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")
    return f"{raw}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


def unsign(purpose: str, token: str) -> str | None:
    """The value ``sign`` bound, or None when the token was not made by us for ``purpose``."""
    raw = token.partition(".")[0]
    try:
        value = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return value if hmac.compare_digest(sign(purpose, value), token) else None
