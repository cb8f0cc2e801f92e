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
from collections.abc import AsyncIterator, Mapping
from typing import Any

from aiohttp import web

from bot import metrics, outage
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
        self.crypto = messages.Crypto(self.token, aes, cfg.appid) if aes else None
        self.window = cfg.timestamp_window
        # A replay is refused by its time or recognised by its key: the key must outlive the window.
        self.dedup = Deduplicator(
            services.redis, keep=Deduplicator.keep_for(self.window), writes=services.writes
        )
        self.timeout = services.settings.server.reply_timeout
        self.background: set[asyncio.Task[Any]] = set()

    def signed(self, request: web.Request) -> bool:
        q = request.query
        return messages.signature_matches(
            q.get("signature", ""), self.token, q.get("timestamp", ""), q.get("nonce", "")
        )

    async def verify(self, request: web.Request) -> web.Response:
        if not self.signed(request):
            metrics.CALLBACKS.labels("bad_signature").inc()
            raise web.HTTPForbidden(text="invalid signature")
        return web.Response(text=request.query.get("echostr", ""))

    async def receive(self, request: web.Request) -> web.Response:
        # WeChat's 5 seconds run from the moment the request reaches us: reading, decrypting,
        # the de-duplication claim and any queue in front of the database all count.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        started = time.perf_counter()
        encrypted = request.query.get("encrypt_type") == "aes"
        try:
            body = await asyncio.wait_for(messages.read_body(request), self.timeout)
            message = self.open(request.query, body)
        except messages.BadSignature as exc:
            metrics.CALLBACKS.labels(
                "stale" if isinstance(exc, messages.Stale) else "bad_signature"
            ).inc()
            raise web.HTTPForbidden(text="invalid signature") from None
        except (messages.BadMessage, TimeoutError) as exc:
            metrics.CALLBACKS.labels("bad_request").inc()
            log.info("rejected callback", extra={"reason": str(exc) or type(exc).__name__})
            raise web.HTTPBadRequest(text="bad request") from None

        work = asyncio.create_task(self._answer(message, deadline))
        self._keep(work)
        try:
            outcome, reply = await asyncio.wait_for(asyncio.shield(work), deadline - loop.time())
        except TimeoutError:
            # Answer in time whatever holds us up; the message is still handled, and its
            # reply follows through the customer-service API.
            work.add_done_callback(lambda t: self._send_later(t, message))
            outcome, reply = "deferred", None
        metrics.CALLBACKS.labels(outcome).inc()
        metrics.REPLY_SECONDS.observe(time.perf_counter() - started)
        if reply is None:
            return web.Response(text=SUCCESS)
        xml_reply = messages.render(reply, message)
        if encrypted and self.crypto is not None:
            xml_reply = self.crypto.encrypt_message(
                xml_reply, request.query.get("nonce") or secrets.token_hex(8)
            )
        return web.Response(text=xml_reply, content_type="application/xml")

    def open(self, q: Mapping[str, str], body: bytes) -> Incoming:
        """Check the signature and the times, decrypt, parse: the message, or a refusal.

        With ``encoding_aes_key`` set only safe-mode bodies are taken: a plaintext body is
        covered by no signature (the URL's ``signature`` signs only timestamp and nonce).
        """
        timestamp, nonce = q.get("timestamp", ""), q.get("nonce", "")
        if self.crypto is not None:
            if q.get("encrypt_type") != "aes":
                raise messages.BadSignature("safe mode takes encrypted bodies only")
            root = messages.decrypt(self.crypto, body, q.get("msg_signature", ""), timestamp, nonce)
        elif q.get("encrypt_type") == "aes":
            raise messages.BadMessage("safe mode is not configured (wechat.encoding_aes_key)")
        else:
            if not messages.signature_matches(q.get("signature", ""), self.token, timestamp, nonce):
                raise messages.BadSignature("invalid signature")
            root = messages.checked_root(body)
        messages.check_fresh(timestamp, self.window, "timestamp")
        message = messages.parse(root)
        messages.check_fresh(int(message.created_at.timestamp()), self.window, "CreateTime")
        return message

    def _keep(self, task: asyncio.Task[Any]) -> None:
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def _answer(self, message: Incoming, deadline: float) -> tuple[str, Reply | None]:
        """Claim the message and handle it, or get the reply of whoever claimed it first."""
        try:
            key = message.dedup_key
            claim = await self.dedup.claim(key)
            if not claim.first:
                if not claim.done:
                    remaining = deadline - asyncio.get_running_loop().time()
                    claim = await self.dedup.wait(key, max(remaining, 0.0))
                if claim.done:
                    return "duplicate", reply_from_json(claim.reply)
                if not claim.first:
                    return (
                        "duplicate",
                        None,
                    )  # the first handler is still at work and replies itself
            return "replied", await self._handle(message, key)
        except Exception as exc:
            # Typically the database or Redis went away (drivers raise their own error types).
            # The resident still gets a polite answer; WeChat's retry may find us healthy again.
            outage.log_failure(log, "callback could not be handled", exc)
            return "unavailable", TextReply(SORRY)

    async def _handle(self, message: Incoming, key: str) -> Reply | None:
        try:
            _, reply = await handle(self.services, message)
        except BaseException:
            await self.dedup.forget(key)
            raise
        await self.dedup.finish(key, reply.to_json() if reply else None)
        return reply

    def _send_later(self, task: asyncio.Task[tuple[str, Reply | None]], message: Incoming) -> None:
        if task.cancelled():
            return
        outcome, reply = task.result()  # _answer turns every failure into an outcome
        if outcome != "replied" or reply is None:
            return  # a duplicate's reply is sent by the handler that claimed the message
        self._keep(asyncio.create_task(self._deliver(message.openid, reply)))

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
        else asyncio.create_task(_purge_claims(app[CALLBACK].dedup), name="callback-purge")
    )
    yield
    if purger is not None:
        purger.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await purger
    await app[CALLBACK].drain()


async def _purge_claims(dedup: Deduplicator) -> None:
    while True:
        try:
            removed = await dedup.purge()
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
