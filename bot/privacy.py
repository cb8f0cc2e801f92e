"""Personal data at rest: Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``)
with the key from ``[privacy] key``, and masks for what staff may see.

One process-wide key, set by ``configure`` when the services open; without a
configured key a fixed development key is used and a warning is logged at
start-up, so a demo works but nothing is protected.
"""

from __future__ import annotations

import base64
import hashlib
import logging

from cryptography.fernet import Fernet, InvalidToken

from bot.feedback.masking import _keep

log = logging.getLogger("bot.privacy")

_DEV_KEY = base64.urlsafe_b64encode(hashlib.sha256(b"policybot-dev-only").digest())
_fernet = Fernet(_DEV_KEY)


def fernet_key(secret: str) -> bytes:
    """A Fernet key: ``secret`` itself when it is one, else derived from it (SHA-256)."""
    try:
        Fernet(secret.encode())
        return secret.encode()
    except ValueError:
        return base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest())


def configure(secret: str) -> None:
    global _fernet
    if not secret:
        log.warning("privacy.key is not set: personal data is encrypted with a development key")
    _fernet = Fernet(fernet_key(secret) if secret else _DEV_KEY)


def encrypt(text: str) -> str:
    return _fernet.encrypt(text.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    """The text; ``ValueError`` when the token was made with another key or altered."""
    try:
        return _fernet.decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise ValueError("encrypted with another key, or altered") from None


def mask_phone(phone: str) -> str:
    """``13812345678`` → ``138****5678``."""
    return _keep(phone, 3, 4) if len(phone) >= 7 else "*" * len(phone)


def mask_email(email: str) -> str:
    """``zhang.san@example.cn`` → ``z***@example.cn``."""
    name, at, domain = email.partition("@")
    return (name[:1] + "***" + at + domain) if at else "***"


def mask_id_number(number: str) -> str:
    """An ID card number with its first and last two characters kept."""
    return _keep(number, 2, 2) if len(number) > 4 else "*" * len(number)
