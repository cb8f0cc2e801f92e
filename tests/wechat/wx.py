"""Plays WeChat's side of the callback: builds, signs and encrypts messages
with wechatpy's own helpers, and reads replies back."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from tests.conftest import WECHAT_TOKEN

_counter = iter(range(10**9))


def signature(token: str, timestamp: str, nonce: str) -> str:
    signer = WeChatSigner()
    signer.add_data(token, timestamp, nonce)
    return signer.signature


def cdata(text: str) -> str:
    """Text as it may stand inside a CDATA section (split where it holds the terminator)."""
    return text.replace("]]>", "]]]]><![CDATA[>")


def text_xml(
    content: str,
    openid: str = "o-resident-1",
    msg_id: str | None = None,
    created: int | None = None,
) -> str:
    msg_id = msg_id or str(6_000_000_000_000_000_000 + next(_counter))
    return (
        f"<xml><ToUserName><![CDATA[gh_account]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time()) if created is None else created}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{cdata(content)}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )


def event_xml(
    event: str, openid: str = "o-resident-1", key: str = "", created: int | None = None
) -> str:
    return (
        f"<xml><ToUserName><![CDATA[gh_account]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{created or int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[{event}]]></Event><EventKey><![CDATA[{key}]]></EventKey></xml>"
    )


def message_xml(msg_type: str, fields: dict[str, str], openid: str = "o-resident-1") -> str:
    extra = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items())
    return (
        f"<xml><ToUserName><![CDATA[gh_account]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>"
        f"{extra}<MsgId>{6_100_000_000_000_000_000 + next(_counter)}</MsgId></xml>"
    )


@dataclass
class Reply:
    status: int
    body: str

    @property
    def xml(self) -> dict[str, Any]:
        root = ET.fromstring(self.body)
        return {child.tag: (child.text or "") for child in root}

    @property
    def text(self) -> str:
        return self.xml.get("Content", "")


class RemoteClient:
    """The subset of ``TestClient`` that ``WeChatServer`` uses, for a service in another process."""

    def __init__(self, http: Any, base_url: str) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.http.post(self.base_url + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.http.get(self.base_url + path, **kwargs)


class WeChatServer:
    """Sends callbacks the way WeChat's servers do (plain or safe mode)."""

    def __init__(
        self,
        client: TestClient | RemoteClient,
        path: str = "/wechat",
        token: str = WECHAT_TOKEN,
        aes_key: str = "",
        appid: str = "",
    ) -> None:
        self.client = client
        self.path = path
        self.token = token
        self.crypto = WeChatCrypto(token, aes_key, appid) if aes_key else None

    def query(self, timestamp: str | None = None, nonce: str = "1320562132") -> dict[str, str]:
        timestamp = timestamp or str(int(time.time()))
        return {
            "signature": signature(self.token, timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
            "openid": "o-resident-1",
        }

    async def post_raw(self, body: bytes | str, query: dict[str, str] | None = None) -> Reply:
        resp = await self.client.post(self.path, params=query or self.query(), data=body)
        return Reply(resp.status, await resp.text())

    def envelope(self, xml: str, timestamp: str | None = None) -> tuple[str, dict[str, str]]:
        """The safe-mode body and query WeChat would send for ``xml``."""
        assert self.crypto is not None
        q = self.query(timestamp)
        envelope = self.crypto.encrypt_message(xml, q["nonce"], q["timestamp"])
        msg_signature = ET.fromstring(envelope).findtext("MsgSignature") or ""
        q.update(encrypt_type="aes", msg_signature=msg_signature)
        return envelope, q

    async def send(self, xml: str, timestamp: str | None = None) -> Reply:
        """Plain mode, or safe mode when the server was built with an AES key."""
        if self.crypto is None:
            return await self.post_raw(xml.encode("utf-8"), self.query(timestamp))
        envelope, q = self.envelope(xml, timestamp)
        reply = await self.post_raw(envelope.encode("utf-8"), q)
        if reply.status == 200 and reply.body != "success":
            root = ET.fromstring(reply.body)
            plain = self.crypto.decrypt_message(
                reply.body,
                root.findtext("MsgSignature"),
                root.findtext("TimeStamp"),
                root.findtext("Nonce"),
            )
            return Reply(200, plain)
        return reply
