"""Tencent Cloud API 3.0 request signing (TC3-HMAC-SHA256), as Tencent documents it.

Hand-written (about 40 lines) rather than ``tencentcloud-sdk-python``: the SDK
is synchronous (``requests``) or brings ``httpx`` for its async client, and we
already have aiohttp. The same functions let the stand-in check a signature
exactly as the real service does, from the headers the request names in
``SignedHeaders``; the tests check both against the official SDK.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime

ALGORITHM = "TC3-HMAC-SHA256"
CONTENT_TYPE = "application/json; charset=utf-8"
SIGNED_HEADERS = ("content-type", "host", "x-tc-action")


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def utc_date(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


def canonical_request(
    method: str, path: str, query: str, headers: Mapping[str, str], payload: bytes
) -> str:
    """Signed headers: names and values lower-cased and trimmed, sorted by name."""
    names = sorted(headers)
    lines = "".join(f"{n}:{headers[n].strip().lower()}\n" for n in names)
    return "\n".join(
        [method, path, query, lines, ";".join(names), hashlib.sha256(payload).hexdigest()]
    )


def signature(secret_key: str, service: str, timestamp: int, canonical: str) -> str:
    date = utc_date(timestamp)
    scope = f"{date}/{service}/tc3_request"
    to_sign = "\n".join(
        [ALGORITHM, str(timestamp), scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), date), service), "tc3_request")
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def signed_headers(
    *,
    secret_id: str,
    secret_key: str,
    service: str,
    host: str,
    action: str,
    version: str,
    region: str,
    payload: bytes,
    timestamp: int,
) -> dict[str, str]:
    """The headers of a signed POST of ``payload`` (JSON) to ``host``'s root."""
    headers = {"content-type": CONTENT_TYPE, "host": host, "x-tc-action": action.lower()}
    canonical = canonical_request("POST", "/", "", headers, payload)
    sig = signature(secret_key, service, timestamp, canonical)
    scope = f"{utc_date(timestamp)}/{service}/tc3_request"
    return {
        "Authorization": f"{ALGORITHM} Credential={secret_id}/{scope}, "
        f"SignedHeaders={';'.join(SIGNED_HEADERS)}, Signature={sig}",
        "Content-Type": CONTENT_TYPE,
        "Host": host,
        "X-TC-Action": action,
        "X-TC-Timestamp": str(timestamp),
        "X-TC-Version": version,
        "X-TC-Region": region,
    }
