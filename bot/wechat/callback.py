"""The WeChat callback: the only code that touches the HTTP request.

GET verifies the URL (echostr). POST checks the signature (plain or safe
mode), parses defensively, de-duplicates WeChat's retries, runs the chat
pipeline and answers within WeChat's 5-second window: a handler that is too
slow is answered with ``success`` at once and its reply follows through the
customer-service message API.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import check_signature

from bot import metrics
from bot.handlers import SORRY, handle
from bot.handlers.types import Incoming, NewsReply, Reply, TextReply, reply_from_json
from bot.keys import SERVICES
from bot.services import Services
from bot.wechat import messages
from bot.wechat.dedup import Deduplicator
from bot.wechat.errors import WeChatError

log = logging.getLogger("bot.callback")

SUCCESS = "success"
PURGE_EVERY = 3600.0  # seconds between clean-ups of old de-duplication claims


class Callback:
    """Holds what the callback needs between requests: crypto, de-duplication, background replies."""

    def __init__(self, services: Services) -> None:
        self.services = services
        cfg = services.settings.wechat
        self.token = cfg.token.get_secret_value()
        aes = cfg.encoding_aes_key.get_secret_value()
        self.crypto = WeChatCrypto(self.token, aes, cfg.appid) if aes else None
        self.dedup = Deduplicator(services.redis)
        self.timeout = services.settings.server.reply_timeout
        self.background: set[asyncio.Task[Any]] = set()

    def signed(self, request: web.Request) -> bool:
        q = request.query
        try:
            check_signature(
                self.token, q.get("signature", ""), q.get("timestamp", ""), q.get("nonce", "")
            )
        except InvalidSignatureException:
            return False
        return True

    async def verify(self, request: web.Request) -> web.Response:
        if not self.signed(request):
            metrics.CALLBACKS.labels("bad_signature").inc()
            raise web.HTTPForbidden(text="invalid signature")
        return web.Response(text=request.query.get("echostr", ""))

    async def receive(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        q = request.query
        encrypted = q.get("encrypt_type") == "aes"
        try:
            body = await request.content.read(messages.MAX_BODY_BYTES + 1)
            if encrypted:
                if self.crypto is None:
                    raise messages.BadMessage(
                        "safe mode is not configured (wechat.encoding_aes_key)"
                    )
                xml = messages.decrypt(
                    self.crypto,
                    body,
                    q.get("msg_signature", ""),
                    q.get("timestamp", ""),
                    q.get("nonce", ""),
                )
            else:
                if not self.signed(request):
                    raise messages.BadSignature("invalid signature")
                xml = messages.check_xml(body)
            message = messages.parse(xml)
        except messages.BadSignature:
            metrics.CALLBACKS.labels("bad_signature").inc()
            raise web.HTTPForbidden(text="invalid signature") from None
        except messages.BadMessage as exc:
            metrics.CALLBACKS.labels("bad_request").inc()
            log.info("rejected callback", extra={"reason": str(exc)})
            raise web.HTTPBadRequest(text="bad request") from None

        try:
            outcome, reply = await self._answer(message)
        except Exception as exc:
            # Typically the database or Redis went away (drivers raise their own error types).
            # The resident still gets a polite answer; WeChat's retry may find us healthy again.
            log.error(
                "callback could not be handled", exc_info=True, extra={"error": type(exc).__name__}
            )
            outcome, reply = "unavailable", TextReply(SORRY)
        metrics.CALLBACKS.labels(outcome).inc()
        metrics.REPLY_SECONDS.observe(time.perf_counter() - started)
        if reply is None:
            return web.Response(text=SUCCESS)
        xml_reply = messages.render(reply, message)
        if encrypted and self.crypto is not None:
            xml_reply = self.crypto.encrypt_message(
                xml_reply, q.get("nonce") or secrets.token_hex(8)
            )
        return web.Response(text=xml_reply, content_type="application/xml")

    async def _answer(self, message: Incoming) -> tuple[str, Reply | None]:
        key = message.dedup_key
        claim = await self.dedup.claim(key)
        if not claim.first:
            if not claim.done:
                claim = await self.dedup.wait(key, self.timeout)
            if claim.done:
                return "duplicate", reply_from_json(claim.reply)
            if not claim.first:
                return "duplicate", None  # the first handler is still at work and will reply itself
        task = asyncio.create_task(self._handle(message, key))
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        try:
            return "replied", await asyncio.wait_for(asyncio.shield(task), self.timeout)
        except TimeoutError:
            task.add_done_callback(lambda t: self._send_later(t, message))
            return "deferred", None

    async def _handle(self, message: Incoming, key: str) -> Reply | None:
        try:
            _, reply = await handle(self.services, message)
        except BaseException:
            await self.dedup.forget(key)
            raise
        await self.dedup.finish(key, reply.to_json() if reply else None)
        return reply

    def _send_later(self, task: asyncio.Task[Reply | None], message: Incoming) -> None:
        if task.cancelled():
            return
        if (exc := task.exception()) is not None:
            # Nobody else awaits this task: without this line the failure would vanish.
            log.error(
                "deferred reply could not be handled", exc_info=exc, extra={"kind": message.kind}
            )
            return
        if task.result() is None:
            return
        later = asyncio.create_task(self._deliver(message.openid, task.result()))
        self.background.add(later)
        later.add_done_callback(self.background.discard)

    async def _deliver(self, openid: str, reply: Reply | None) -> None:
        """A slow reply goes out as a customer-service message (the resident just wrote)."""
        api = self.services.api
        try:
            if isinstance(reply, TextReply):
                await api.send_custom_text(openid, reply.text)
            elif isinstance(reply, NewsReply):
                a = reply.article
                await api.send_custom_news(
                    openid,
                    {
                        "title": a.title,
                        "description": a.description,
                        "url": a.url,
                        "picurl": a.image,
                    },
                )
            metrics.DEFERRED_REPLIES.labels("sent").inc()
        except WeChatError as exc:
            metrics.DEFERRED_REPLIES.labels("failed").inc()
            log.warning("deferred reply failed", extra={"code": exc.code})

    async def drain(self) -> None:
        """Let replies in flight finish at shutdown."""
        if self.background:
            await asyncio.wait(set(self.background), timeout=10)


CALLBACK = web.AppKey("callback", Callback)


async def callback_ctx(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]
    app[CALLBACK] = Callback(services)
    # Database claims are only needed for WeChat's retries; without a clean-up the table grows forever.
    purger = (
        None
        if services.redis is not None
        else asyncio.create_task(_purge_claims(), name="callback-purge")
    )
    yield
    if purger is not None:
        purger.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await purger
    await app[CALLBACK].drain()


async def _purge_claims() -> None:
    while True:
        try:
            removed = await Deduplicator.purge()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("purging old message claims failed")
        else:
            if removed:
                log.info("purged old message claims", extra={"rows": removed})
        await asyncio.sleep(PURGE_EVERY)


async def verify(request: web.Request) -> web.Response:
    return await request.app[CALLBACK].verify(request)


async def receive(request: web.Request) -> web.Response:
    return await request.app[CALLBACK].receive(request)
