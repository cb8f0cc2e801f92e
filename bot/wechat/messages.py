"""WeChat XML in and out: defensive parsing, wechatpy's message types, safe
passive replies, and safe-mode (AES) encryption through wechatpy's crypto.

Parsing refuses any DTD or entity before wechatpy (xmltodict) sees the body,
so XXE and entity-expansion bombs never get expanded. Replies are rendered
with wechatpy's reply classes after neutralising what its CDATA templates do
not escape (``]]>``) and the control characters XML cannot carry.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.replies import ArticlesReply
from wechatpy.replies import TextReply as WxTextReply

from bot.handlers.types import Incoming, NewsReply, Reply, TextReply

if TYPE_CHECKING:
    from aiohttp import web

MAX_BODY_BYTES = 64 * 1024  # WeChat's messages are a few KB; anything larger is not WeChat
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class BadMessage(ValueError):
    """The body is not a well-formed, harmless WeChat message (answered with 400)."""


class BadSignature(ValueError):
    """The request was not signed with our token (answered with 403)."""


class Stale(BadSignature):
    """Signed, but its time is outside the accepted window: a replay (answered with 403)."""


def signature_matches(expected: str, token: str, *parts: str) -> bool:
    """WeChat's sha1 over the sorted token and parts, compared in constant time."""
    digest = hashlib.sha1("".join(sorted((token, *parts))).encode("utf-8")).hexdigest()
    return hmac.compare_digest(digest.encode(), expected.encode("utf-8", "replace"))


def check_fresh(unix_time: str | int, window: int, what: str) -> None:
    """Refuse a time further than ``window`` seconds from now (replays of captured requests)."""
    try:
        age = time.time() - int(unix_time)
    except (TypeError, ValueError):
        raise BadMessage(f"{what} is not a number") from None
    if abs(age) > window:
        raise Stale(f"{what} outside the accepted window")


async def read_body(request: web.Request) -> bytes:
    """The whole body, however many TCP reads it takes, refusing more than ``MAX_BODY_BYTES``."""
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise BadMessage("body too large")
    body = bytearray()
    while chunk := await request.content.read(MAX_BODY_BYTES + 1 - len(body)):
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise BadMessage("body too large")
    return bytes(body)


def check_xml(body: bytes) -> str:
    """Return the body as text if it is small, UTF-8 and plain XML without DTD or entities."""
    if len(body) > MAX_BODY_BYTES:
        raise BadMessage("body too large")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadMessage("body is not UTF-8") from exc
    try:
        root = SafeET.fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, SafeET.ParseError) as exc:
        raise BadMessage(f"unsafe or malformed XML: {type(exc).__name__}") from exc
    if root.tag != "xml":
        raise BadMessage("root element is not <xml>")
    return text


def decrypt(
    crypto: WeChatCrypto, body: bytes, msg_signature: str, timestamp: str, nonce: str
) -> str:
    """Decrypt a safe-mode body whose ``Encrypt`` checks against ``msg_signature``.

    Only the decrypted message is returned: in compatible mode the plaintext fields
    beside ``Encrypt`` are covered by no signature and are never read.
    """
    root = SafeET.fromstring(check_xml(body))
    encrypted = root.findtext("Encrypt")
    if not encrypted:
        raise BadMessage("safe-mode body without <Encrypt>")
    if not signature_matches(msg_signature, crypto.token, timestamp, nonce, encrypted):
        raise BadSignature("invalid msg_signature")
    try:
        plain = crypto.decrypt_message(body, msg_signature, timestamp, nonce)
    except (InvalidSignatureException, InvalidAppIdException) as exc:
        raise BadSignature(str(exc) or type(exc).__name__) from exc
    except Exception as exc:  # wechatpy raises bare KeyError/ValueError/binascii.Error on garbage
        raise BadMessage(f"cannot decrypt: {type(exc).__name__}") from exc
    return check_xml(plain.encode("utf-8") if isinstance(plain, str) else plain)


def parse(xml_text: str) -> Incoming:
    """Turn checked XML into an ``Incoming`` using wechatpy's message and event types."""
    try:
        message = parse_message(xml_text)
        raw: dict[str, Any] = dict(message._data)
        msg_type = str(raw["MsgType"]).lower()
        openid = str(raw["FromUserName"])
        created = datetime.fromtimestamp(int(raw["CreateTime"]), UTC)
    except (KeyError, ValueError, TypeError, AttributeError, OverflowError, OSError) as exc:
        raise BadMessage(f"not a WeChat message: {type(exc).__name__}") from exc
    if msg_type == "event":
        kind = str(raw.get("Event", "")).lower()
        if kind == "subscribe_scan":  # wechatpy's name for a follow through a QR code
            kind = "subscribe"
        text = str(raw.get("EventKey") or "")
    else:
        kind = msg_type
        text = str(raw.get("Content") or "")
    return Incoming(
        kind=kind,
        openid=openid,
        created_at=created,
        text=text.strip(),
        msg_id=str(raw["MsgId"]) if raw.get("MsgId") else None,
        raw=raw,
    )


def _cdata_safe(text: str) -> str:
    return _XML_ILLEGAL.sub("", text).replace("]]>", "]]]]><![CDATA[>")


def render(reply: Reply, message: Incoming) -> str:
    """The passive-reply XML for ``reply`` to ``message``."""
    to, me = message.openid, str(message.raw.get("ToUserName", ""))
    if isinstance(reply, TextReply):
        return WxTextReply(source=me, target=to, content=_cdata_safe(reply.text)).render()
    a = reply.article
    news = ArticlesReply(source=me, target=to)
    news.add_article(
        {
            "title": _cdata_safe(a.title),
            "description": _cdata_safe(a.description),
            "image": _cdata_safe(a.image),
            "url": _cdata_safe(a.url),
        }
    )
    return news.render()


__all__ = [
    "BadMessage",
    "BadSignature",
    "NewsReply",
    "Stale",
    "WeChatCrypto",
    "check_fresh",
    "check_xml",
    "decrypt",
    "parse",
    "read_body",
    "render",
    "signature_matches",
]
