"""WeChat XML in and out: defensive parsing, safe passive replies, and
safe-mode (AES) encryption through wechatpy's crypto.

Each body is parsed once, by defusedxml, which refuses any DTD or entity, so
XXE and entity-expansion bombs never get expanded; the message's fields are
read from that tree in the shape wechatpy's parser (xmltodict) would give
them, rather than parsing the same bytes again. Replies are rendered
with wechatpy's reply classes after neutralising what its CDATA templates do
not escape (``]]>``) and the control characters XML cannot carry.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from wechatpy.crypto import PrpCrypto, WeChatCrypto
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


class Crypto(WeChatCrypto):
    """wechatpy's safe-mode crypto with one AES cipher per key: wechatpy builds a new one
    for every message (a twentieth of a callback's CPU), though it keeps no state
    between messages (each use takes a fresh encryptor or decryptor)."""

    def __init__(self, token: str, encoding_aes_key: str, app_id: str) -> None:
        super().__init__(token, encoding_aes_key, app_id)
        prp = PrpCrypto(self.key)
        self._prp = lambda _key: prp

    def encrypt_message(self, msg: str, nonce: str, timestamp: str | None = None) -> str:
        return str(self._encrypt_message(msg, nonce, timestamp, self._prp))

    def decrypt_message(self, msg: Any, signature: str, timestamp: str, nonce: str) -> str:
        return str(self._decrypt_message(msg, signature, timestamp, nonce, self._prp))


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
    return _checked(body)[0]


def _checked(body: bytes) -> tuple[str, Any]:
    """The body as text and its parsed root, if it passes ``check_xml``'s rules."""
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
    return text, root


def decrypt(
    crypto: WeChatCrypto, body: bytes, msg_signature: str, timestamp: str, nonce: str
) -> Element:
    """Decrypt a safe-mode body whose ``Encrypt`` checks against ``msg_signature``.

    Only the decrypted message is returned: in compatible mode the plaintext fields
    beside ``Encrypt`` are covered by no signature and are never read.
    """
    encrypted = _checked(body)[1].findtext("Encrypt")
    if not encrypted:
        raise BadMessage("safe-mode body without <Encrypt>")
    if not signature_matches(msg_signature, crypto.token, timestamp, nonce, encrypted):
        raise BadSignature("invalid msg_signature")
    try:
        # A dict spares wechatpy a second parse of the envelope.
        plain = crypto.decrypt_message({"Encrypt": encrypted}, msg_signature, timestamp, nonce)
    except (InvalidSignatureException, InvalidAppIdException) as exc:
        raise BadSignature(str(exc) or type(exc).__name__) from exc
    except Exception as exc:  # wechatpy raises bare KeyError/ValueError/binascii.Error on garbage
        raise BadMessage(f"cannot decrypt: {type(exc).__name__}") from exc
    return checked_root(plain.encode("utf-8") if isinstance(plain, str) else plain)


def checked_root(body: bytes) -> Element:
    """The parsed root of a body that passes ``check_xml``'s rules."""
    return _checked(body)[1]


def _fields(element: Element) -> Any:
    """An element's text, or its children as a dict (repeated ones as a list): the shape
    xmltodict gives wechatpy, read from the tree already parsed for the safety check."""
    if len(element) == 0:
        return (element.text or "").strip() or None
    out: dict[str, Any] = {}
    for child in element:
        value = _fields(child)
        if child.tag in out:
            previous = out[child.tag]
            out[child.tag] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            out[child.tag] = value
    return out


def parse(root: Element) -> Incoming:
    """Turn a checked message into an ``Incoming``: its fields as WeChat named them."""
    try:
        raw: dict[str, Any] = _fields(root)
        msg_type = str(raw["MsgType"]).lower()
        openid = str(raw["FromUserName"])
        created = datetime.fromtimestamp(int(raw["CreateTime"]), UTC)
    except (KeyError, ValueError, TypeError, AttributeError, OverflowError, OSError) as exc:
        raise BadMessage(f"not a WeChat message: {type(exc).__name__}") from exc
    if msg_type == "event":
        kind = str(raw.get("Event", "")).lower()
        text = str(raw.get("EventKey") or "")
    else:
        kind = msg_type
        text = str(raw.get("Content") or raw.get("Recognition") or raw.get("Label") or "")
    return Incoming(
        kind=kind,
        openid=openid,
        created_at=created,
        text=text.strip(),
        msg_id=str(raw["MsgId"]) if raw.get("MsgId") else None,
        raw=raw,
        point=_point(raw.get("Location_X"), raw.get("Location_Y")),
    )


def _point(lat: Any, lon: Any) -> tuple[float, float] | None:
    """A shared location's coordinates; None when absent or not numbers."""
    try:
        point = float(lat), float(lon)
    except (TypeError, ValueError):
        return None
    return point if all(map(math.isfinite, point)) else None


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
    "checked_root",
    "decrypt",
    "parse",
    "read_body",
    "render",
    "signature_matches",
]
