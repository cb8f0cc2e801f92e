"""WeChat's error codes and the one exception every API call raises.

At the bottom of the house: the API client, the token store, the push
channels and the stand-in all classify WeChat's answers with these.
"""

from __future__ import annotations

from typing import Any

import orjson

TOKEN_INVALID = frozenset({40001, 40014, 42001})
TRANSIENT = frozenset({-1, 45009, 45011, 45066})
NETWORK_ERROR = -2  # our code: no answer, timeout, or an HTTP 5xx from WeChat
BAD_ANSWER = -3  # our code: an answer that is not WeChat's JSON (wrong api_base_url?)
DEMO_MODE = 41002  # WeChat's "appid missing": the service runs without an account


class WeChatError(Exception):
    """A refusal or failure of a WeChat API call; ``data`` is WeChat's whole answer."""

    def __init__(self, code: int, message: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.data = data or {}

    @property
    def token_invalid(self) -> bool:
        return self.code in TOKEN_INVALID

    @property
    def transient(self) -> bool:
        """Worth retrying later: busy, quotas that reset, clientmsgid retried too fast, network."""
        return self.code in TRANSIENT or self.code == NETWORK_ERROR

    @property
    def permanent(self) -> bool:
        """Retrying will not help (unfollowed, blocked, declined, outside the window, no quota)."""
        return not self.transient and not self.token_invalid


def parse_answer(path: str, status: int, raw: bytes) -> dict[str, Any]:
    """WeChat's JSON answer, or ``WeChatError`` for errcode ≠ 0, 5xx and garbage."""
    if status >= 500:
        raise WeChatError(NETWORK_ERROR, f"HTTP {status} from WeChat ({path})")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise WeChatError(BAD_ANSWER, f"HTTP {status}, not JSON ({path})") from None
    if not isinstance(data, dict):
        raise WeChatError(BAD_ANSWER, f"HTTP {status}, unexpected answer ({path})")
    code = int(data.get("errcode") or 0)
    if code:
        raise WeChatError(code, str(data.get("errmsg", "")), data)
    return data
