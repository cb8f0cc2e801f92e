"""Personal data at rest: sealed with Fernet (``cryptography``), shown masked.

The key comes from ``privacy.key`` (or ``POLICYBOT_PRIVACY_KEY``) and is never
written to the database; without one, a key file is generated once under
``./data/`` so the embedded default still runs. A sealed value cannot be
searched, so look-ups go by something else (a request's number) and compare
after opening.

Code that has its settings at hand asks ``sealer(settings.privacy)``; code that
does not (a resident's eligibility answers, read deep in the chat) uses
``encrypt``/``decrypt``, which seal with the key ``configure`` was given when
the services opened (the same key, so one ``[privacy]`` section serves both).
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken

from bot.config import PrivacySettings

log = logging.getLogger("bot.privacy")


class Sealer:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def seal(self, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        return self._fernet.encrypt(value.encode("utf-8")).decode("ascii")

    def open(self, token: str | None) -> str | None:
        """The plain value; ``None`` when absent or sealed with another key (never raises)."""
        if not token:
            return None
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError):
            log.warning("sealed value cannot be opened with the configured privacy.key")
            return None


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
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    log.warning("privacy.key not set: generated a key file", extra={"path": path})
    return Sealer(key)


_configured: Sealer | None = None


def configure(settings: PrivacySettings) -> None:
    """Make ``settings``' key the one ``encrypt``/``decrypt`` use in this process."""
    global _configured
    _configured = sealer(settings)


def _current() -> Sealer:
    return _configured or sealer(PrivacySettings())


def encrypt(text: str) -> str:
    """``text`` sealed with the configured key (an empty text too)."""
    return _current()._fernet.encrypt(text.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str | None:
    """The text; ``None`` when sealed with another key or altered (logged, never raises)."""
    return _current().open(token)


def mask_id(value: str | None) -> str:
    """``350582199001011234`` → ``3505**********1234``."""
    if not value:
        return ""
    if len(value) <= 8:
        return value[:1] + "*" * (len(value) - 1)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_phone(value: str | None) -> str:
    """``13812345678`` → ``138****5678``."""
    if not value:
        return ""
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(value: str | None) -> str:
    """``张三丰`` → ``张**``."""
    if not value:
        return ""
    return value[0] + "*" * (len(value) - 1)


def mask_text(value: str | None) -> str:
    """Addresses and emails: the first characters only."""
    if not value:
        return ""
    keep = min(3, max(1, len(value) // 4))
    return value[:keep] + "***"
