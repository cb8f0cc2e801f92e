"""Async client for the WeChat official-account API (sending, tags, users, menu).

Why our own client rather than wechatpy's ``WeChatClient``:

- wechatpy's client is synchronous (``requests``); it must not run on the
  event loop, and a thread per call would cap delivery throughput;
- its ``fetch_access_token`` hard-codes ``api.weixin.qq.com`` and ignores
  ``wechat.api_base_url``, so it cannot talk to the stand-in;
- ``auto_retry`` recurses without bound while WeChat answers 40001 (#629)
  and its ``expires_at`` is not shared between processes (#684);
- mass send by tag posts ``group_id`` where the API now reads ``tag_id``.

``call`` adds the shared access token (``bot.wechat.token``), turns every
non-zero ``errcode`` and every network failure into ``WeChatError`` and, on
an invalid or expired token only, refreshes it and retries exactly once.
Other retries (busy, rate limits) are the caller's decision: the push
workers own backoff.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from bot.config import WeChatSettings
from bot.wechat.errors import (
    DEMO_MODE,
    NETWORK_ERROR,
    WeChatError,
    parse_answer,
)
from bot.wechat.token import AccessTokenManager

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("bot.wechat")

TAG_BATCH = 50  # tags/members/batch(un)tagging accepts at most 50 openids
USER_INFO_BATCH = 100  # user/info/batchget accepts at most 100 openids


def _dumps(data: Any) -> bytes:
    # UTF-8 as is (like json.dumps(ensure_ascii=False)): WeChat shows \uXXXX escapes literally.
    return orjson.dumps(data)


class WeChatAPI:
    """One account's API; cheap to create, shares its token through the database or Redis."""

    def __init__(
        self,
        settings: WeChatSettings,
        http: aiohttp.ClientSession,
        redis: Redis | None = None,
        *,
        key_prefix: str = "policybot:",
        stable_token: bool = True,
    ) -> None:
        self.settings = settings
        self.http = http
        self.base_url = settings.api_base_url
        self.tokens = AccessTokenManager(
            settings, http, redis, key_prefix=key_prefix, stable=stable_token
        )

    @property
    def enabled(self) -> bool:
        """False in demo mode (no appid): nothing can be sent."""
        return not self.settings.demo

    async def call(
        self,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        method: str = "POST",
    ) -> dict[str, Any]:
        """Call ``cgi-bin/...``; refresh the token and retry once on 40001/40014/42001."""
        if not self.enabled:
            raise WeChatError(DEMO_MODE, "demo mode: wechat.appid is not configured")
        token = await self.tokens.get()
        try:
            return await self._request(method, path, token, json, params)
        except WeChatError as exc:
            if not exc.token_invalid:
                raise
            log.warning(
                "access token rejected, refreshing once",
                extra={"path": path, "errcode": exc.code},
            )
        token = await self.tokens.refresh(stale=token)
        return await self._request(method, path, token, json, params)

    async def _request(
        self, method: str, path: str, token: str, body: Any, params: dict[str, Any] | None
    ) -> dict[str, Any]:
        url = self.base_url + path.lstrip("/")
        query = {"access_token": token, **(params or {})}
        data = None if body is None else _dumps(body)
        headers = {"Content-Type": "application/json; charset=utf-8"} if data is not None else None
        try:
            async with self.http.request(
                method, url, params=query, data=data, headers=headers
            ) as resp:
                raw = await resp.read()
                status = resp.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            # The exception text may contain the URL with the token: name the type only.
            raise WeChatError(NETWORK_ERROR, f"network error: {type(exc).__name__}") from None
        return parse_answer(path, status, raw)

    # --- web authorisation (snsapi_base) ------------------------------------------------

    async def oauth_openid(self, code: str) -> str:
        """The openid behind a 网页授权 ``code`` (``sns/oauth2/access_token``; no access token)."""
        if not self.enabled:
            raise WeChatError(DEMO_MODE, "demo mode: wechat.appid is not configured")
        query = {"appid": self.settings.appid, "secret": self.settings.secret.get_secret_value(),
                 "code": code, "grant_type": "authorization_code"}  # fmt: skip
        try:
            async with self.http.get(
                self.base_url + "sns/oauth2/access_token", params=query
            ) as resp:
                raw, status = await resp.read(), resp.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise WeChatError(NETWORK_ERROR, f"network error: {type(exc).__name__}") from None
        return str(parse_answer("sns/oauth2/access_token", status, raw)["openid"])

    # --- customer service (48 h window) -------------------------------------------------

    async def send_custom_text(self, openid: str, text: str) -> None:
        await self.call(
            "cgi-bin/message/custom/send",
            json={"touser": openid, "msgtype": "text", "text": {"content": text}},
        )

    async def send_custom_news(self, openid: str, article: dict[str, Any]) -> None:
        """One article: ``{title, description, url, picurl}``."""
        await self.call(
            "cgi-bin/message/custom/send",
            json={"touser": openid, "msgtype": "news", "news": {"articles": [article]}},
        )

    # --- template and subscribe messages ------------------------------------------------

    async def send_template(
        self,
        openid: str,
        template_id: str,
        data: dict[str, Any],
        url: str | None = None,
        client_msg_id: str | None = None,
    ) -> int:
        """Returns WeChat's ``msgid``; ``client_msg_id`` makes a retry within 10 min harmless."""
        body: dict[str, Any] = {"touser": openid, "template_id": template_id, "data": data}
        if url:
            body["url"] = url
        if client_msg_id:
            body["client_msg_id"] = client_msg_id
        answer = await self.call("cgi-bin/message/template/send", json=body)
        return int(answer.get("msgid", 0))

    async def send_subscribe_message(
        self,
        openid: str,
        template_id: str,
        data: dict[str, Any],
        page: str | None = None,
    ) -> None:
        """订阅通知; ``page`` is the web link (bizsend names it so). 43101 = declined."""
        body: dict[str, Any] = {"touser": openid, "template_id": template_id, "data": data}
        if page:
            body["page"] = page
        await self.call("cgi-bin/message/subscribe/bizsend", json=body)

    # --- mass sends ---------------------------------------------------------------------

    async def mass_send_by_tag(self, tag_id: int, payload: dict[str, Any], clientmsgid: str) -> int:
        """Mass send to a tag; ``payload`` is e.g. ``{"msgtype": "text", "text": {...}}``.

        Returns ``msg_id``. A 45065 (this clientmsgid was sent within 24 h) is
        the earlier send succeeding, so its ``msg_id`` is returned.
        """
        body = {"filter": {"is_to_all": False, "tag_id": tag_id}, **payload}
        return await self._mass("cgi-bin/message/mass/sendall", body, clientmsgid)

    async def mass_send_to_openids(
        self, openids: Sequence[str], payload: dict[str, Any], clientmsgid: str
    ) -> int:
        """Mass send to 2..10,000 openids (service accounts); same 45065 rule."""
        body = {"touser": list(openids), **payload}
        return await self._mass("cgi-bin/message/mass/send", body, clientmsgid)

    async def _mass(self, path: str, body: dict[str, Any], clientmsgid: str) -> int:
        body["clientmsgid"] = clientmsgid
        try:
            answer = await self.call(path, json=body)
        except WeChatError as exc:
            if exc.code == 45065 and exc.data.get("msg_id"):
                log.info(
                    "mass send already accepted earlier",
                    extra={"clientmsgid": clientmsgid, "msg_id": exc.data["msg_id"]},
                )
                return int(exc.data["msg_id"])
            raise
        return int(answer["msg_id"])

    # --- tags ---------------------------------------------------------------------------

    async def create_tag(self, name: str) -> dict[str, Any]:
        """Returns ``{"id": …, "name": …}``."""
        answer = await self.call("cgi-bin/tags/create", json={"tag": {"name": name}})
        return dict(answer["tag"])

    async def get_tags(self) -> list[dict[str, Any]]:
        """Every tag as ``{"id", "name", "count"}``."""
        answer = await self.call("cgi-bin/tags/get", method="GET")
        return list(answer.get("tags", []))

    async def rename_tag(self, tag_id: int, name: str) -> None:
        await self.call("cgi-bin/tags/update", json={"tag": {"id": tag_id, "name": name}})

    async def delete_tag(self, tag_id: int) -> None:
        await self.call("cgi-bin/tags/delete", json={"tag": {"id": tag_id}})

    async def tag_users(self, tag_id: int, openids: Iterable[str]) -> None:
        """Tag any number of residents, 50 per call (WeChat's limit)."""
        await self._batch_tagging("cgi-bin/tags/members/batchtagging", tag_id, openids)

    async def untag_users(self, tag_id: int, openids: Iterable[str]) -> None:
        await self._batch_tagging("cgi-bin/tags/members/batchuntagging", tag_id, openids)

    async def _batch_tagging(self, path: str, tag_id: int, openids: Iterable[str]) -> None:
        for chunk in _chunks(list(openids), TAG_BATCH):
            await self.call(path, json={"openid_list": chunk, "tagid": tag_id})

    # --- users --------------------------------------------------------------------------

    async def get_followers(self, next_openid: str | None = None) -> tuple[list[str], str, int]:
        """One page (≤ 10,000) of followers: ``(openids, next_openid, total)``.

        The last page still carries a ``next_openid``; the page after it is
        empty, which is how the end is recognised (see ``iter_followers``).
        """
        params = {"next_openid": next_openid} if next_openid else None
        answer = await self.call("cgi-bin/user/get", params=params, method="GET")
        openids = list(answer.get("data", {}).get("openid", []))
        return openids, str(answer.get("next_openid") or ""), int(answer.get("total", 0))

    async def iter_followers(self) -> AsyncIterator[tuple[list[str], int]]:
        """Every page of followers as ``(openids, total)``, until WeChat has no more."""
        next_openid: str | None = None
        while True:
            openids, next_openid, total = await self.get_followers(next_openid)
            if not openids:
                return
            yield openids, total
            if not next_openid:
                return

    async def batch_user_info(
        self, openids: Iterable[str], lang: str = "zh_CN"
    ) -> list[dict[str, Any]]:
        """User info for any number of openids, 100 per call (WeChat's limit)."""
        out: list[dict[str, Any]] = []
        for chunk in _chunks(list(openids), USER_INFO_BATCH):
            answer = await self.call(
                "cgi-bin/user/info/batchget",
                json={"user_list": [{"openid": o, "lang": lang} for o in chunk]},
            )
            out.extend(answer.get("user_info_list", []))
        return out

    async def get_user_tags(self, openid: str) -> list[int]:
        answer = await self.call("cgi-bin/tags/getidlist", json={"openid": openid})
        return [int(t) for t in answer.get("tagid_list", [])]

    # --- menu ---------------------------------------------------------------------------

    async def create_menu(self, menu: dict[str, Any]) -> None:
        """``menu`` is ``{"button": [...]}`` as WeChat defines it."""
        await self.call("cgi-bin/menu/create", json=menu)

    async def get_menu(self) -> dict[str, Any]:
        return await self.call("cgi-bin/menu/get", method="GET")

    async def delete_menu(self) -> None:
        await self.call("cgi-bin/menu/delete", method="GET")


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
