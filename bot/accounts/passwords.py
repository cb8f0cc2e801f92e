"""Password rules (等保 2.0 level 3: length and complexity) and argon2id hashing.

argon2-cffi does the hashing and the constant-time verification; a log-in for
an unknown name still verifies against a dummy hash, so the time taken does
not reveal whether the name exists.
"""

from __future__ import annotations

import asyncio
import secrets
import string
import threading
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from bot.errors import Invalid

T = TypeVar("T")
MIN_LENGTH = 12
CLASSES_NEEDED = 3

_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 low-memory profile
# Each hash or check takes 64 MiB for a tenth of a second: at most two at once, so a burst of
# log-ins (the lockout stops only five per address) queues instead of exhausting memory.
_slots = threading.BoundedSemaphore(2)


@cache
def _dummy() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def _classes(password: str) -> int:
    kinds = (
        any(c.islower() for c in password),
        any(c.isupper() for c in password),
        any(c.isdigit() for c in password),
        any(not c.isalnum() for c in password),
    )
    return sum(kinds)


def check_rules(name: str, password: str) -> None:
    """Refuse a password that breaks the rules, saying which rule in Chinese."""
    if len(password) < MIN_LENGTH:
        raise Invalid("weak_password", f"密码至少 {MIN_LENGTH} 位")
    if _classes(password) < CLASSES_NEEDED:
        raise Invalid("weak_password", "密码须包含大写字母、小写字母、数字、符号中的至少三类")
    if name and name.casefold() in password.casefold():
        raise Invalid("weak_password", "密码不能包含用户名")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; ``None`` (no such account) takes the same time and fails."""
    try:
        return _hasher.verify(password_hash or _dummy(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def hash_off_loop(password: str) -> str:
    """``hash_password`` in a worker thread: argon2 takes a tenth of a second of CPU on purpose,
    which must not stall the event loop (argon2-cffi releases the GIL while it works)."""
    return await asyncio.to_thread(_in_slot, hash_password, password)


async def verify_off_loop(password_hash: str | None, password: str) -> bool:
    """``verify`` in a worker thread, for the same reason."""
    return await asyncio.to_thread(_in_slot, verify, password_hash, password)


def _in_slot(work: Callable[..., T], *args: Any) -> T:
    with _slots:
        return work(*args)


def temporary_password() -> str:
    """A random password that meets the rules, shown once and changed at the next log-in."""
    alphabet = string.ascii_letters + string.digits
    while True:
        candidate = "-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(3))
        if _classes(candidate) >= CLASSES_NEEDED + 1:
            return candidate
