"""Personal data at rest: sealed with Fernet (``cryptography``), found by a keyed hash, shown masked.

The key comes from ``privacy.key`` (or ``POLICYBOT_PRIVACY_KEY``) and is never
written to the database; without one, a key file is generated once under
``./data/`` so the embedded default still runs. Several keys separated by
commas rotate: the first encrypts, any of them decrypts. A sealed value cannot
be searched, so look-ups go by something else (a request's number) or by an
HMAC keyed with the same secret (phones are a small space, about 10^9 in use:
a plain hash could be reversed by trying every number).

Two ways in, one key: participation passes its settings (``sealer(settings)``);
contacts and push links use the module functions (``encrypt``, ``sign``…),
which read the settings given once to ``configure`` at start-up.

Code that does not have its settings at hand (a resident's eligibility answers,
read deep in the chat) uses the module functions too: ``decrypt`` answers
``None`` for a value sealed with another key rather than raising.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from bot.config import PrivacySettings
from bot.errors import Unavailable

log = logging.getLogger("bot.privacy")


class Sealer:
    def __init__(self, key: bytes) -> None:
        parts = [k.strip() for k in key.split(b",") if k.strip()]
        self._fernet = MultiFernet([Fernet(k) for k in parts])
        self._lookup = hmac.new(
            base64.urlsafe_b64decode(parts[0]), b"policybot-lookup", "sha256"
        ).digest()

    def seal(self, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        return self.encrypt(value)

    def open(self, token: str | None) -> str | None:
        """The plain value; ``None`` when absent or sealed with another key (never raises)."""
        if not token:
            return None
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError):
            log.warning("sealed value cannot be opened with the configured privacy.key")
            return None

    def encrypt(self, text: str) -> str:
        return self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """The plain value; a refusal naming the key when it was sealed with another one."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError) as exc:
            raise Unavailable(
                "privacy_key_wrong", "个人信息无法解密：privacy.key 与加密时不同"
            ) from exc

    def lookup_hash(self, text: str) -> str:
        return hmac.new(self._lookup, text.encode(), hashlib.sha256).hexdigest()

    def mac(self, message: str) -> bytes:
        return hmac.new(self._lookup, message.encode(), hashlib.sha256).digest()[:12]


def sealer(settings: PrivacySettings) -> Sealer:
    raw = settings.key.get_secret_value()
    return _sealer(raw, str(settings.key_file))


@lru_cache(maxsize=4)
def _sealer(raw: str, key_file: str) -> Sealer:
    if raw:
        return Sealer(raw.encode("ascii"))
    path = os.path.abspath(key_file)
    try:
        with open(path, "rb") as f:
            return Sealer(f.read().strip())
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(path), exist_ok=True)
    key = Fernet.generate_key()
    # Written whole under a private name, then linked into place: when several processes
    # start at once, one link wins and every process reads the same, complete key.
    draft = f"{path}.{os.getpid()}"
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    try:
        os.link(draft, path)
    except FileExistsError:
        with open(path, "rb") as f:
            key = f.read().strip()
    else:
        log.warning("privacy.key not set: generated a key file", extra={"path": path})
    finally:
        os.unlink(draft)
    return Sealer(key)


_configured: PrivacySettings | None = None


def configure(settings: PrivacySettings) -> None:
    """Use ``settings`` for the module functions from now on; called once at start-up.

    Lazy: the key file (when ``key`` is empty) is made only when a value is first sealed.
    """
    global _configured
    _configured = settings


def _need() -> Sealer:
    """The configured key; before ``configure`` (a one-shot command) the default settings'."""
    return sealer(_configured or PrivacySettings())


def encrypt(text: str) -> str:
    return _need().encrypt(text)


def decrypt(token: str) -> str | None:
    """The text; ``None`` when sealed with another key or altered (logged, never raises)."""
    return _need().open(token)


def lookup_hash(text: str) -> str:
    """A stable keyed hash to find a row by a phone or email without decrypting every row."""
    return _need().lookup_hash(text)


def sign(purpose: str, value: str) -> str:
    """A URL-safe token binding ``value`` to ``purpose`` (unsubscribe, open and profile links)."""
    mac = _need().mac(f"{purpose}:{value}")
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


def valid_key(key: str) -> bool:
    """Every comma-separated part is a Fernet key (``Fernet.generate_key()``)."""
    try:
        for part in key.split(","):
            Fernet(part.strip().encode())
    except ValueError:
        return False
    return True


def mask_id(value: str | None) -> str:
    """``350582199001011234`` → ``3505**********1234``."""
    if not value:
        return ""
    if len(value) <= 8:
        return value[:1] + "*" * (len(value) - 1)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_phone(value: str | None) -> str:
    """``13812345678`` (or ``+8613812345678``) → ``138****5678``."""
    if not value:
        return ""
    value = value.removeprefix("+86")
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(value: str | None) -> str:
    """``张三丰`` → ``张**``."""
    if not value:
        return ""
    return value[0] + "*" * (len(value) - 1)


def mask_email(email: str | None) -> str:
    """``zhangsan@example.com`` → ``z***@example.com``."""
    if not email:
        return ""
    name, _, domain = email.partition("@")
    return f"{name[:1]}***@{domain}" if domain else "***"


def mask_text(value: str | None) -> str:
    """Addresses: the first characters only."""
    if not value:
        return ""
    keep = min(3, max(1, len(value) // 4))
    return value[:keep] + "***"
