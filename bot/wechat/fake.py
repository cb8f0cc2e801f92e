"""A stand-in for the WeChat API that enforces WeChat's rules and records what it receives.

Tests, demos and benchmarks point ``wechat.api_base_url`` at it (``policybot
fake-wechat``). It answers like WeChat — HTTP 200 with ``errcode``/``errmsg``
— and refuses what WeChat refuses: wrong credentials, invalid or expired
tokens, openids that never followed (40003) or unfollowed (43004), customer
messages outside the 48 h window (45015) or beyond 5 in it (45047), daily
quotas (45009), duplicate or too fast ``clientmsgid`` (45065/45066), declined
订阅通知 (43101), unauthorised menus (48001), tagging over 50 openids (40032),
and a mass send filter without ``tag_id`` (wechatpy's ``group_id``). Residents
over their 4 mass sends a month are skipped silently, as WeChat does.

Everything is in memory and cheap per request (a benchmark sends ~1000 req/s).
``/_fake/state``, ``/_fake/messages``, ``/_fake/config`` and ``/_fake/reset``
let a test or an operator inspect and steer it; in-process tests use the
``FakeWeChat`` object itself (``fake_state(app)``). ``/_fake/say`` plays a
resident writing: the message goes to the service's callback as WeChat would
send it, and the stand-in learns that the resident wrote (the 48-hour window).
"""

from __future__ import annotations

import asyncio
import bisect
import dataclasses
import hashlib
import logging
import random
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import defusedxml.ElementTree as SafeET
import orjson
from aiohttp import web

from bot.wechat.menu import menu_problems
from bot.wechat.templates import too_long

log = logging.getLogger("bot.wechat.fake")

SYSTEM_TAGS = {2: "星标组"}  # ids 0/1/2 are reserved by WeChat; 2 is listed by tags/get
FIRST_TAG_ID = 100
MAX_TAGS = 100
MAX_TAGS_PER_USER = 20
TOKEN_ENDPOINTS = frozenset({"token", "stable_token"})


@dataclass
class FakeConfig:
    """How the stand-in behaves; every field can be changed at run time (``/_fake/config``)."""

    appid: str = "wxfakeappid0000001"
    secret: str = "fake-secret"
    followers: int | list[str] = 0  # a count generates o-fake-000001 … or explicit openids
    tags: list[str] = field(default_factory=list)  # tags created at start, ids 100, 101, …
    tag_round_robin: bool = False  # generated follower i gets tags[i % len(tags)]
    follower_tags: dict[str, list[int]] = field(default_factory=dict)  # openid → tag ids
    active: list[str] = field(default_factory=list)  # openids that wrote within 48 h
    declined: list[str] = field(default_factory=list)  # openids refusing 订阅通知 (43101)
    templates: list[str] = field(default_factory=list)  # known template ids; empty accepts any
    token_ttl: float = 7200.0  # seconds a token lives
    token_grace: float = 300.0  # a replaced token keeps working this long
    error_rate: float = 0.0  # share of API calls answered -1 (system busy); tokens exempt
    ack_loss_rate: float = 0.0  # share of accepted calls whose answer is lost (HTTP 502)
    seed: int = 0  # seeds the RNG behind error_rate and ack_loss_rate
    latency_ms: float = 0.0  # added to every /cgi-bin call
    daily_quota: dict[str, int] = field(default_factory=dict)  # endpoint (or "*") → calls a day
    mass_monthly_quota: int = 4  # mass sends a resident receives a month (service account)
    mass_daily_quota: int | None = None  # account-wide mass sends a day (subscription: 1) → 45028
    custom_window: float = 48 * 3600.0  # customer-service window after a resident writes
    custom_limit: int = 5  # customer messages within one window
    clientmsgid_retry_interval: float = 0.0  # WeChat: 60 s; a retry sooner gets 45066
    menu_authorized: bool = True  # False → 48001 on menu calls
    fail: dict[str, int] = field(default_factory=dict)  # endpoint → errcode on every call
    user_page_size: int = 10_000  # user/get page size
    callback_url: str = ""  # the service's callback; /_fake/say delivers residents' messages there
    callback_token: str = "policybot-dev"  # the service's wechat.token, to sign them
    oauth_domain: str = ""  # 网页授权域名: redirect_uri must be on this host ("" accepts any)


class Refusal(Exception):
    def __init__(self, code: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra


@dataclass
class Follower:
    following: bool = True
    tags: set[int] = field(default_factory=set)
    subscribe_time: int = 0


@dataclass
class Token:
    expires_at: float
    replaced: bool = False


Handler = Callable[["FakeWeChat", dict[str, Any], Any], dict[str, Any]]


class FakeWeChat:
    """The stand-in's whole state: followers, tokens, tags, quotas and every delivered message."""

    def __init__(self, config: FakeConfig | None = None) -> None:
        self.url = ""  # set by whoever serves it (tests: the fixture)
        self.reset(config or FakeConfig())

    # --- steering (also reachable over HTTP) --------------------------------------------

    def reset(self, config: FakeConfig | None = None) -> None:
        """Forget every record, token, tag and counter; rebuild followers from the config."""
        if config is not None:
            self.config = config
        cfg = self.config
        self.rng = random.Random(cfg.seed)
        self.followers: dict[str, Follower] = {}
        self._following_sorted: list[str] | None = None
        self.active: dict[str, list[float]] = {}  # openid → [window start, messages used]
        self.tags: dict[int, str] = dict(SYSTEM_TAGS)
        self.tag_members: dict[int, set[str]] = {i: set() for i in SYSTEM_TAGS}
        self.next_tag_id = FIRST_TAG_ID
        self.tokens: dict[str, Token] = {}
        self.current_token: dict[str, str | None] = {"token": None, "stable_token": None}
        self.calls: Counter[str] = Counter()
        self.errors: Counter[int] = Counter()
        self.day_calls: Counter[tuple[int, str]] = Counter()
        self.delivered: dict[str, list[dict[str, Any]]] = {}
        self.total_delivered = 0
        self.duplicates = 0
        self.deduplicated = 0  # retries WeChat absorbed (template client_msg_id, 45065)
        self.answers_lost = 0
        self._seen: set[tuple[str, int]] = set()
        self.mass_jobs: list[dict[str, Any]] = []
        self.mass_clientmsgids: dict[str, list[Any]] = {}  # id → [msg_id, first, last attempt]
        self.mass_received: dict[str, tuple[str, int]] = {}  # openid → (month, count)
        self.mass_days: Counter[int] = Counter()
        self.template_ids: dict[tuple[str, str], tuple[int, float]] = {}
        self.menu: dict[str, Any] | None = None
        self.next_msg_id = 1_000_000_001
        self.oauth_codes: dict[str, tuple[str, str, float]] = {}  # code → (openid, scope, expires)
        for name in cfg.tags:
            self._create_tag(name)
        self.add_followers(cfg.followers)
        for openid, tag_ids in cfg.follower_tags.items():
            self.add_followers([openid])
            for tag_id in tag_ids:
                self._tag(openid, tag_id)
        self.mark_active(*cfg.active)

    def configure(self, **changes: Any) -> None:
        """Change config fields, plus actions: active/follow/unfollow lists, expire_tokens."""
        actions = {
            k: changes.pop(k) for k in ("follow", "unfollow", "expire_tokens") if k in changes
        }
        known = {f.name for f in dataclasses.fields(FakeConfig)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown fake config keys: {sorted(unknown)}")
        self.config = dataclasses.replace(self.config, **changes)
        if "seed" in changes:
            self.rng = random.Random(self.config.seed)
        if "followers" in changes:
            self.add_followers(self.config.followers)
        if "tags" in changes:
            for name in self.config.tags:
                if name not in self.tags.values():
                    self._create_tag(name)
        if "follower_tags" in changes:
            for openid, tag_ids in self.config.follower_tags.items():
                self.add_followers([openid])
                for tag_id in tag_ids:
                    self._tag(openid, self.known_tag(tag_id))
        if "active" in changes:
            self.mark_active(*self.config.active)
        self.follow(*actions.get("follow", ()))
        self.unfollow(*actions.get("unfollow", ()))
        if actions.get("expire_tokens"):
            self.expire_tokens()

    def add_followers(self, followers: int | list[str]) -> None:
        """A count makes sure o-fake-000001 … o-fake-N follow; a list adds those openids."""
        if isinstance(followers, int):
            tag_ids = sorted(i for i in self.tags if i not in SYSTEM_TAGS)
            for i in range(1, followers + 1):
                openid = f"o-fake-{i:06d}"
                if openid not in self.followers:
                    self.follow(openid)
                    if self.config.tag_round_robin and tag_ids:
                        self._tag(openid, tag_ids[(i - 1) % len(tag_ids)])
        else:
            self.follow(*(o for o in followers if o not in self.followers))

    def follow(self, *openids: str) -> None:
        now = int(time.time())
        for openid in openids:
            f = self.followers.setdefault(openid, Follower(subscribe_time=now))
            f.following = True
        self._following_sorted = None

    def unfollow(self, *openids: str) -> None:
        for openid in openids:
            f = self.followers.get(openid)
            if f:
                f.following = False
                for tag_id in f.tags:
                    self.tag_members[tag_id].discard(openid)
                f.tags.clear()
        self._following_sorted = None

    def mark_active(self, *openids: str) -> None:
        """These residents just wrote: a new customer-service window opens."""
        now = time.time()
        for openid in openids:
            self.active[openid] = [now, 0]

    def expire_tokens(self) -> None:
        """Every issued token expires now (42001), as after WeChat-side expiry."""
        now = time.time()
        for token in self.tokens.values():
            token.expires_at = min(token.expires_at, now)

    # --- inspection ---------------------------------------------------------------------

    @property
    def token_calls(self) -> int:
        return self.calls["token"] + self.calls["stable_token"]

    def messages(self, openid: str) -> list[dict[str, Any]]:
        """What this resident received (WeChat said errcode 0), oldest first."""
        return self.delivered.get(openid, [])

    def snapshot(self) -> dict[str, Any]:
        return {
            "delivered": {o: len(m) for o, m in self.delivered.items()},
            "total_delivered": self.total_delivered,
            "duplicates": self.duplicates,
            "deduplicated": self.deduplicated,
            "answers_lost": self.answers_lost,
            "calls": dict(self.calls),
            "errors": {str(k): v for k, v in self.errors.items()},
            "token_calls": self.token_calls,
            "followers": sum(1 for f in self.followers.values() if f.following),
            "tags": [
                {"id": i, "name": n, "count": len(self.tag_members[i])}
                for i, n in self.tags.items()
            ],
            "mass_jobs": self.mass_jobs,
            "menu": self.menu,
        }

    # --- rules shared by endpoints ------------------------------------------------------

    def check_token(self, token: str | None) -> None:
        if not token:
            raise Refusal(41001, "access_token missing")
        entry = self.tokens.get(token)
        if entry is None:
            raise Refusal(40001, "invalid credential, access_token is invalid or not latest")
        if time.time() >= entry.expires_at:
            if entry.replaced:
                raise Refusal(40001, "invalid credential, access_token is invalid or not latest")
            raise Refusal(42001, "access_token expired")

    def issue_token(self, kind: str) -> str:
        now = time.time()
        old = self.current_token[kind]
        if old and old in self.tokens:
            entry = self.tokens[old]
            entry.expires_at = min(entry.expires_at, now + self.config.token_grace)
            entry.replaced = True
        for t in [t for t, e in self.tokens.items() if e.expires_at < now - 3600]:
            del self.tokens[t]
        token = f"FAKE_{kind.upper()}_{uuid.uuid4().hex}{uuid.uuid4().hex}"
        self.tokens[token] = Token(now + self.config.token_ttl)
        self.current_token[kind] = token
        return token

    def check_credentials(self, appid: Any, secret: Any) -> None:
        if appid != self.config.appid:
            raise Refusal(40013, "invalid appid")
        if secret != self.config.secret:
            raise Refusal(40125, "invalid appsecret")

    def follower(self, openid: Any) -> Follower:
        f = self.followers.get(openid) if isinstance(openid, str) else None
        if f is None:
            raise Refusal(40003, "invalid openid")
        if not f.following:
            raise Refusal(43004, "require subscribe")
        return f

    def following_sorted(self) -> list[str]:
        if self._following_sorted is None:
            self._following_sorted = sorted(o for o, f in self.followers.items() if f.following)
        return self._following_sorted

    def deliver(
        self, openid: str, kind: str, payload: dict[str, Any], key: str | None, msg_id: int
    ) -> None:
        content = key if key is not None else orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
        seen = (openid, hash(content))
        if seen in self._seen:
            self.duplicates += 1
        else:
            self._seen.add(seen)
        self.delivered.setdefault(openid, []).append(
            {
                "kind": kind,
                "msg_id": msg_id,
                "client_id": key,
                "at": time.time(),
                "payload": payload,
            }
        )
        self.total_delivered += 1

    def new_msg_id(self) -> int:
        self.next_msg_id += 1
        return self.next_msg_id

    def _create_tag(self, name: str) -> int:
        tag_id = self.next_tag_id
        self.next_tag_id += 1
        self.tags[tag_id] = name
        self.tag_members[tag_id] = set()
        return tag_id

    def _tag(self, openid: str, tag_id: int) -> None:
        self.followers[openid].tags.add(tag_id)
        self.tag_members[tag_id].add(openid)

    def known_tag(self, tag_id: Any) -> int:
        if not isinstance(tag_id, int) or tag_id not in self.tags:
            raise Refusal(45159, "invalid tag id")
        return tag_id


# --- endpoints (pure functions of state, body and query) -----------------------------------


def _token(s: FakeWeChat, body: dict[str, Any], query: Any) -> dict[str, Any]:
    if query.get("grant_type") != "client_credential":
        raise Refusal(40002, "invalid grant_type")
    s.check_credentials(query.get("appid"), query.get("secret"))
    return {"access_token": s.issue_token("token"), "expires_in": int(s.config.token_ttl)}


def _stable_token(s: FakeWeChat, body: dict[str, Any], query: Any) -> dict[str, Any]:
    if body.get("grant_type") != "client_credential":
        raise Refusal(40002, "invalid grant_type")
    s.check_credentials(body.get("appid"), body.get("secret"))
    renew_before = min(300.0, s.config.token_ttl / 24)  # WeChat renews 5 minutes early
    current = s.current_token["stable_token"]
    entry = s.tokens.get(current) if current else None
    now = time.time()
    if not body.get("force_refresh") and entry and entry.expires_at - now > renew_before:
        return {"access_token": current, "expires_in": int(entry.expires_at - now)}
    return {"access_token": s.issue_token("stable_token"), "expires_in": int(s.config.token_ttl)}


def _custom_send(s: FakeWeChat, body: dict[str, Any], query: Any) -> dict[str, Any]:
    openid = body.get("touser") or ""
    s.follower(openid)
    msgtype = body.get("msgtype")
    if msgtype not in body:
        raise Refusal(47001, "data format error")
    if msgtype == "news" and len(body["news"].get("articles", [])) > 1:
        raise Refusal(45008, "article size out of limit")
    window = s.active.get(openid)
    now = time.time()
    if window is None or now - window[0] > s.config.custom_window:
        raise Refusal(45015, "response out of time limit or subscription is canceled")
    if window[1] >= s.config.custom_limit:
        raise Refusal(45047, "out of response count limit")
    window[1] += 1
    s.deliver(openid, "custom", body, None, s.new_msg_id())
    return {"errcode": 0, "errmsg": "ok"}


def _check_data(body: dict[str, Any]) -> None:
    """Template data as WeChat checks it: a typed key over its limit is 47003."""
    data = body.get("data")
    if not isinstance(data, dict):
        raise Refusal(47001, "data format error")
    for key, entry in data.items():
        value = entry.get("value") if isinstance(entry, dict) else None
        if not isinstance(value, str):
            raise Refusal(47001, "data format error")
        if too_long(key, value):
            raise Refusal(47003, f"argument invalid! data.{key}.value exceeds limit")


def _template_send(s: FakeWeChat, body: dict[str, Any], query: Any) -> dict[str, Any]:
    openid = body.get("touser") or ""
    s.follower(openid)
    template_id = body.get("template_id")
    if not template_id or (s.config.templates and template_id not in s.config.templates):
        raise Refusal(40037, "invalid template_id")
    _check_data(body)
    client_id = body.get("client_msg_id")
    now = time.time()
    if client_id:
        earlier = s.template_ids.get((openid, client_id))
        if earlier and now - earlier[1] < 600:  # WeChat: de-duplicated for 10 minutes
            s.deduplicated += 1
            return {"errcode": 0, "errmsg": "ok", "msgid": earlier[0]}
    msg_id = s.new_msg_id()
    if client_id:
        s.template_ids[(openid, client_id)] = (msg_id, now)
    s.deliver(openid, "template", body, client_id, msg_id)
    return {"errcode": 0, "errmsg": "ok", "msgid": msg_id}


def _subscribe_send(s: FakeWeChat, body: dict[str, Any], query: Any) -> dict[str, Any]:
    openid = body.get("touser") or ""
    s.follower(openid)
    template_id = body.get("template_id")
    if not template_id or (s.config.templates and template_id not in s.config.templates):
        raise Refusal(40037, "invalid template_id")
    if openid in s.config.declined:
        raise Refusal(43101, "user refuse to accept the msg")
    _check_data(body)
    s.deliver(openid, "subscribe", body, None, s.new_msg_id())
    return {"errcode": 0, "errmsg": "ok"}


def _mass(
    s: FakeWeChat, body: dict[str, Any], recipients: list[str], target: Any
) -> dict[str, Any]:
    msgtype = body.get("msgtype")
    if (
        msgtype not in ("mpnews", "text", "voice", "image", "mpvideo", "wxcard")
        or msgtype not in body
    ):
        raise Refusal(47001, "data format error")
    client_id = body.get("clientmsgid")
    now = time.time()
    if client_id is not None:
        client_id = str(client_id)
        if len(client_id.encode()) > 64:
            raise Refusal(45067, "clientmsgid size out of limit")
        earlier = s.mass_clientmsgids.get(client_id)
        if earlier and now - earlier[1] < 86400:
            too_fast = now - earlier[2] < s.config.clientmsgid_retry_interval
            earlier[2] = now
            if too_fast:
                raise Refusal(45066, "clientmsgid retry too fast")
            s.deduplicated += 1
            raise Refusal(45065, "clientmsgid exist", msg_id=earlier[0])
    day = int(now // 86400)
    quota = s.config.mass_daily_quota
    if quota is not None and s.mass_days[day] >= quota:
        raise Refusal(45028, "has no masssend quota")
    s.mass_days[day] += 1
    msg_id = s.new_msg_id()
    if client_id is not None:
        s.mass_clientmsgids[client_id] = [msg_id, now, now]
    month = time.strftime("%Y%m")
    limit = s.config.mass_monthly_quota
    sent = filtered = 0
    for openid in recipients:
        f = s.followers.get(openid)
        if f is None or not f.following:
            filtered += 1
            continue
        seen_month, count = s.mass_received.get(openid, (month, 0))
        if seen_month != month:
            count = 0
        if count >= limit:
            filtered += 1  # over the monthly quota: silently skipped, like WeChat
            continue
        s.mass_received[openid] = (month, count + 1)
        s.deliver(openid, "mass", body, client_id, msg_id)
        sent += 1
    s.mass_jobs.append(
        {
            "msg_id": msg_id,
            "clientmsgid": client_id,
            "target": target,
            "total": len(recipients),
            "sent": sent,
            "filtered": filtered,
            "msgtype": msgtype,
        }
    )
    return {
        "errcode": 0,
        "errmsg": "send job submission success",
        "msg_id": msg_id,
        "msg_data_id": msg_id % 100_000_000,
    }


def _mass_sendall(s: FakeWeChat, body: dict[str, Any], query: Any) -> dict[str, Any]:
    flt = body.get("filter")
    if not isinstance(flt, dict):
        raise Refusal(47001, "data format error")
    if flt.get("is_to_all"):
        return _mass(s, body, s.following_sorted(), "all")
    if "tag_id" not in flt:
        # wechatpy 1.8.18 posts group_id; WeChat no longer reads it.
        raise Refusal(40035, "invalid args: filter.tag_id missing")
    tag_id = s.known_tag(flt["tag_id"])
    return _mass(s, body, sorted(s.tag_members[tag_id]), {"tag_id": tag_id})


def _mass_send(s: FakeWeChat, body: dict[str, Any], query: Any) -> dict[str, Any]:
    touser = body.get("touser")
    if not isinstance(touser, list) or not 2 <= len(touser) <= 10_000:
        raise Refusal(40130, "invalid openid list size, at least two openid")
    return _mass(s, body, list(dict.fromkeys(touser)), {"openids": len(touser)})


def _mass_preview(s: FakeWeChat, body: dict[str, Any], query: Any) -> dict[str, Any]:
    """A mass message previewed by one follower (staff); no monthly quota is used."""
    openid = body.get("touser")
    s.follower(openid)
    msgtype = body.get("msgtype")
    if msgtype not in body:
        raise Refusal(47001, "data format error")
    msg_id = s.new_msg_id()
    s.deliver(str(openid), "preview", body, None, msg_id)
    return {"errcode": 0, "errmsg": "preview success", "msg_id": msg_id}


def _tags_create(s: FakeWeChat, body: dict[str, Any], query: Any) -> dict[str, Any]:
    name = (body.get("tag") or {}).get("name")
    _check_tag_name(s, name)
    if len(s.tags) - len(SYSTEM_TAGS) >= MAX_TAGS:
        raise Refusal(45056, "too many tags")
    return {"tag": {"id": s._create_tag(str(name)), "name": name}}


def _check_tag_name(s: FakeWeChat, name: Any) -> None:
    if not isinstance(name, str) or not name:
        raise Refusal(40035, "invalid args: tag name")
    if len(name) > 30:
        raise Refusal(45158, "tag name too long")
    if name in s.tags.values():
        raise Refusal(45157, "invalid tag name, duplicate")


def _tags_get(s: FakeWeChat, body: dict[str, Any], query: Any) -> dict[str, Any]:
    return {
        "tags": [{"id": i, "name": n, "count": len(s.tag_members[i])} for i, n in s.tags.items()]
    }


def _tags_update(s: FakeWeChat, body: dict[str, Any], query: Any) -> dict[str, Any]:
    tag = body.get("tag") or {}
    tag_id = s.known_tag(tag.get("id"))
    if tag_id in SYSTEM_TAGS:
        raise Refusal(45058, "can't modify sys tag")
    if tag.get("name") != s.tags[tag_id]:
        _check_tag_name(s, tag.get("name"))
    s.tags[tag_id] = tag["name"]
    return {"errcode": 0, "errmsg": "ok"}


def _tags_delete(s: FakeWeChat, body: dict[str, Any], query: Any) -> dict[str, Any]:
    tag_id = s.known_tag((body.get("tag") or {}).get("id"))
    if tag_id in SYSTEM_TAGS:
        raise Refusal(45058, "can't modify sys tag")
    if len(s.tag_members[tag_id]) > 100_000:
        raise Refusal(45057, "too many fans in this tag")
    for openid in s.tag_members.pop(tag_id):
        s.followers[openid].tags.discard(tag_id)
    del s.tags[tag_id]
    return {"errcode": 0, "errmsg": "ok"}


def _tagging_args(s: FakeWeChat, body: dict[str, Any]) -> tuple[int, list[str]]:
    openids = body.get("openid_list")
    if not isinstance(openids, list) or not 1 <= len(openids) <= 50:
        raise Refusal(40032, "invalid openid list size")
    tag_id = s.known_tag(body.get("tagid"))
    for openid in openids:
        s.follower(openid)
    return tag_id, openids


def _batch_tagging(s: FakeWeChat, body: dict[str, Any], query: Any) -> dict[str, Any]:
    tag_id, openids = _tagging_args(s, body)
    for openid in openids:
        tags = s.followers[openid].tags
        if tag_id not in tags and len(tags) >= MAX_TAGS_PER_USER:
            raise Refusal(45059, "too many tags on a user")
    for openid in openids:
        s._tag(openid, tag_id)
    return {"errcode": 0, "errmsg": "ok"}


def _batch_untagging(s: FakeWeChat, body: dict[str, Any], query: Any) -> dict[str, Any]:
    tag_id, openids = _tagging_args(s, body)
    for openid in openids:
        s.followers[openid].tags.discard(tag_id)
        s.tag_members[tag_id].discard(openid)
    return {"errcode": 0, "errmsg": "ok"}


def _tag_idlist(s: FakeWeChat, body: dict[str, Any], query: Any) -> dict[str, Any]:
    f = s.follower(body.get("openid"))
    return {"tagid_list": sorted(f.tags)}


def _user_get(s: FakeWeChat, body: dict[str, Any], query: Any) -> dict[str, Any]:
    everyone = s.following_sorted()
    after = query.get("next_openid") or ""
    start = bisect.bisect_right(everyone, after) if after else 0
    page = everyone[start : start + s.config.user_page_size]
    answer: dict[str, Any] = {"total": len(everyone), "count": len(page)}
    if page:
        answer["data"] = {"openid": page}
    answer["next_openid"] = page[-1] if page else ""
    return answer


def _user_info_batch(s: FakeWeChat, body: dict[str, Any], query: Any) -> dict[str, Any]:
    users = body.get("user_list")
    if not isinstance(users, list) or not 1 <= len(users) <= 100:
        raise Refusal(40032, "invalid openid list size")
    out = []
    for user in users:
        openid = user.get("openid") if isinstance(user, dict) else None
        f = s.followers.get(openid) if isinstance(openid, str) else None
        if f is None:
            raise Refusal(40003, "invalid openid")
        if not f.following:
            out.append({"subscribe": 0, "openid": openid})
            continue
        out.append(
            {
                "subscribe": 1,
                "openid": openid,
                "language": user.get("lang", "zh_CN"),
                "subscribe_time": f.subscribe_time,
                "remark": "",
                "groupid": 0,
                "tagid_list": sorted(f.tags),
                "subscribe_scene": "ADD_SCENE_SEARCH",
                "qr_scene": 0,
                "qr_scene_str": "",
            }
        )
    return {"user_info_list": out}


MENU_ERRMSG = {
    40016: "invalid button size", 40017: "invalid button type", 40018: "invalid button name size",
    40019: "invalid button key size", 40020: "invalid button url size",
    40023: "invalid sub button size", 40024: "invalid sub button type",
    40025: "invalid sub button name size", 40026: "invalid sub button key size",
    40027: "invalid sub button url size",
}  # fmt: skip


def _menu_authorized(s: FakeWeChat) -> None:
    if not s.config.menu_authorized:
        raise Refusal(48001, "api unauthorized")


def _menu_create(s: FakeWeChat, body: dict[str, Any], query: Any) -> dict[str, Any]:
    _menu_authorized(s)
    problems = menu_problems(body)
    if problems:
        first = problems[0]
        raise Refusal(first.code, MENU_ERRMSG.get(first.code, "invalid menu"))
    s.menu = {"button": body["button"]}
    return {"errcode": 0, "errmsg": "ok"}


def _menu_get(s: FakeWeChat, body: dict[str, Any], query: Any) -> dict[str, Any]:
    _menu_authorized(s)
    if s.menu is None:
        raise Refusal(46003, "menu no exist")
    return {"menu": s.menu}


def _menu_delete(s: FakeWeChat, body: dict[str, Any], query: Any) -> dict[str, Any]:
    _menu_authorized(s)
    s.menu = None
    return {"errcode": 0, "errmsg": "ok"}


ENDPOINTS: dict[str, Handler] = {
    "token": _token,
    "stable_token": _stable_token,
    "message/custom/send": _custom_send,
    "message/template/send": _template_send,
    "message/subscribe/bizsend": _subscribe_send,
    "message/mass/sendall": _mass_sendall,
    "message/mass/send": _mass_send,
    "message/mass/preview": _mass_preview,
    "tags/create": _tags_create,
    "tags/get": _tags_get,
    "tags/update": _tags_update,
    "tags/delete": _tags_delete,
    "tags/members/batchtagging": _batch_tagging,
    "tags/members/batchuntagging": _batch_untagging,
    "tags/getidlist": _tag_idlist,
    "user/get": _user_get,
    "user/info/batchget": _user_info_batch,
    "menu/create": _menu_create,
    "menu/get": _menu_get,
    "menu/delete": _menu_delete,
}

_LITERAL_ESCAPE = re.compile(rb"(?<!\\)((?:\\\\)*)\\u")
FAKE_KEY = web.AppKey("fake_wechat", FakeWeChat)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


async def _api(request: web.Request) -> web.Response:
    s = request.app[FAKE_KEY]
    name = request.match_info["name"]
    handler = ENDPOINTS.get(name)
    if handler is None:
        return _json({"errcode": 404, "errmsg": f"unknown api {name}"}, status=404)
    cfg = s.config
    if cfg.latency_ms:
        await asyncio.sleep(cfg.latency_ms / 1000)
    s.calls[name] += 1
    raw = await request.read()
    if b"\\u" in raw:
        # WeChat shows \uXXXX escapes literally (send JSON with ensure_ascii=False): keep them.
        raw = _LITERAL_ESCAPE.sub(rb"\1\\\\u", raw)
    try:
        body = orjson.loads(raw) if raw else {}
        if not isinstance(body, dict):
            raise Refusal(47001, "data format error")
        answer = _answer(s, name, handler, body, request.query)
    except orjson.JSONDecodeError:
        answer = _refused(s, Refusal(47001, "data format error"))
    except Refusal as refusal:
        answer = _refused(s, refusal)
    lost = (
        cfg.ack_loss_rate
        and answer.get("errcode", 0) == 0
        and name not in TOKEN_ENDPOINTS
        and s.rng.random() < cfg.ack_loss_rate
    )
    if lost:
        s.answers_lost += 1  # WeChat did the work; the caller never hears of it
        return web.Response(status=502, text="bad gateway")
    return _json(answer)


def _answer(
    s: FakeWeChat, name: str, handler: Handler, body: dict[str, Any], query: Any
) -> dict[str, Any]:
    cfg = s.config
    if name in cfg.fail:
        raise Refusal(cfg.fail[name], "injected by fake config")
    if name not in TOKEN_ENDPOINTS:
        s.check_token(query.get("access_token"))
    quota = cfg.daily_quota.get(name, cfg.daily_quota.get("*"))
    if quota is not None:
        key = (int(time.time() // 86400), name)
        s.day_calls[key] += 1
        if s.day_calls[key] > quota:
            raise Refusal(45009, "reach max api daily quota limit")
    if cfg.error_rate and name not in TOKEN_ENDPOINTS and s.rng.random() < cfg.error_rate:
        raise Refusal(-1, "system error")
    return handler(s, body, query)


def _refused(s: FakeWeChat, refusal: Refusal) -> dict[str, Any]:
    s.errors[refusal.code] += 1
    return {"errcode": refusal.code, "errmsg": f"{refusal.message} rid: fake", **refusal.extra}


async def _state(request: web.Request) -> web.Response:
    return _json(request.app[FAKE_KEY].snapshot())


async def _messages(request: web.Request) -> web.Response:
    openid = request.query.get("openid", "")
    return _json({"openid": openid, "messages": request.app[FAKE_KEY].messages(openid)})


async def _config(request: web.Request) -> web.Response:
    s = request.app[FAKE_KEY]
    try:
        changes = await request.json()
        s.configure(**changes)
    except (ValueError, TypeError) as exc:
        return _json({"error": str(exc)}, status=400)
    return _json(dataclasses.asdict(s.config))


async def _reset(request: web.Request) -> web.Response:
    s = request.app[FAKE_KEY]
    config = None
    if request.can_read_body:
        try:
            config = FakeConfig(**(await request.json()))
        except (ValueError, TypeError) as exc:
            return _json({"error": str(exc)}, status=400)
    s.reset(config)
    return _json(dataclasses.asdict(s.config))


async def _say(request: web.Request) -> web.Response:
    """A resident writes: like WeChat, the stand-in delivers the message to the
    service's callback (plain mode, signed with its token) and so knows the
    resident wrote — they follow, and their 48-hour window opens. Body:
    ``{"openid", "text"}`` or ``{"openid", "event", "key"?}``; answers with the
    callback's status and the reply's text."""
    s = request.app[FAKE_KEY]
    if not s.config.callback_url:
        return _json({"error": "no callback_url configured (fake-wechat --callback URL)"}, 400)
    try:
        body = await request.json()
        openid, text = str(body["openid"]), str(body.get("text", ""))
        event, key = str(body.get("event", "")), str(body.get("key", ""))
    except (ValueError, TypeError, KeyError):
        return _json({"error": 'body must be {"openid": …, "text": …} or {"openid", "event"}'}, 400)
    s.follow(openid)
    if event.lower() != "unsubscribe":
        s.mark_active(openid)
    else:
        s.unfollow(openid)
    now = int(time.time())
    if event:
        content = f"<MsgType>event</MsgType><Event>{_cdata(event)}</Event><EventKey>{_cdata(key)}</EventKey>"
    else:
        s.next_msg_id += 1
        content = f"<MsgType>text</MsgType><Content>{_cdata(text)}</Content><MsgId>{s.next_msg_id}</MsgId>"
    xml = (
        f"<xml><ToUserName>{_cdata('gh_fake')}</ToUserName><FromUserName>{_cdata(openid)}"
        f"</FromUserName><CreateTime>{now}</CreateTime>{content}</xml>"
    )
    nonce = uuid.uuid4().hex[:10]
    signed = "".join(sorted([s.config.callback_token, str(now), nonce]))
    query = {
        "signature": hashlib.sha1(signed.encode()).hexdigest(),
        "timestamp": str(now),
        "nonce": nonce,
        "openid": openid,
    }
    async with aiohttp.ClientSession() as http:
        try:
            async with http.post(s.config.callback_url, params=query, data=xml.encode()) as resp:
                status, answer = resp.status, await resp.text()
        except aiohttp.ClientError as exc:
            return _json({"error": f"callback unreachable: {type(exc).__name__}"}, 502)
    reply = answer
    if answer.startswith("<xml>"):
        reply = _text_of(answer)
    return _json({"status": status, "reply": reply})


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _text_of(xml: str) -> str:
    """The text of a passive reply (a news reply: its title and link)."""
    root = SafeET.fromstring(xml)
    if root.findtext("MsgType") == "news":
        item = root.find("Articles/item")
        return f"{item.findtext('Title')}\n{item.findtext('Url')}" if item is not None else ""
    return root.findtext("Content") or ""


# --- web authorisation (网页授权, snsapi_base) ----------------------------------------------

OAUTH_CODE_TTL = 300.0  # WeChat: a code is good for 5 minutes, once
OAUTH_SCOPES = ("snsapi_base", "snsapi_userinfo")


async def _oauth_authorize(request: web.Request) -> web.Response:
    """What WeChat's in-app browser does on ``open.weixin.qq.com/connect/oauth2/authorize``:
    checks the request and sends the resident back to ``redirect_uri`` with a one-time
    ``code``. WeChat knows who is looking; the stand-in is told with ``openid`` (default:
    the first follower)."""
    s = request.app[FAKE_KEY]
    q = request.query
    if q.get("appid") != s.config.appid:
        return web.Response(status=400, text="appid 参数错误")
    if q.get("response_type") != "code" or q.get("scope") not in OAUTH_SCOPES:
        return web.Response(status=400, text="scope 参数错误或没有 scope 权限")
    redirect = q.get("redirect_uri", "")
    host = urlsplit(redirect).hostname or ""
    domain = s.config.oauth_domain
    if not redirect.startswith(("http://", "https://")) or (domain and host != domain):
        return web.Response(status=400, text="redirect_uri 参数错误（10003）")
    openid = q.get("openid") or next(iter(s.followers), "o-fake-anonymous")
    code = uuid.uuid4().hex
    s.oauth_codes[code] = (openid, q["scope"], time.time() + OAUTH_CODE_TTL)
    joiner = "&" if "?" in redirect else "?"
    location = f"{redirect}{joiner}code={code}&state={q.get('state', '')}"
    return web.Response(status=302, headers={"Location": location})


async def _oauth_token(request: web.Request) -> web.Response:
    """``sns/oauth2/access_token``: the code for the resident's openid (40029 unknown or
    expired code, 40163 a code used twice)."""
    s = request.app[FAKE_KEY]
    q = request.query
    s.calls["sns/oauth2/access_token"] += 1
    try:
        if q.get("grant_type") != "authorization_code":
            raise Refusal(40002, "invalid grant_type")
        s.check_credentials(q.get("appid"), q.get("secret"))
        code = q.get("code", "")
        found = s.oauth_codes.get(code)
        if found is not None and found[2] == 0:
            raise Refusal(40163, "code been used")
        if found is None or found[2] < time.time():
            raise Refusal(40029, "invalid code")
        s.oauth_codes[code] = (found[0], found[1], 0)  # used: a second exchange is refused
        return _json({"access_token": f"FAKE_SNS_{uuid.uuid4().hex}", "expires_in": 7200,
                      "refresh_token": f"FAKE_SNS_R_{uuid.uuid4().hex}", "openid": found[0],
                      "scope": found[1]})  # fmt: skip
    except Refusal as refusal:
        return _json(_refused(s, refusal))


def create_fake_app(config: FakeConfig | None = None) -> web.Application:
    """The stand-in as an aiohttp app; its state is ``app[FAKE_KEY]`` (``fake_state(app)``)."""
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app[FAKE_KEY] = FakeWeChat(config)
    app.router.add_route("*", "/cgi-bin/{name:.+}", _api)
    app.router.add_get("/connect/oauth2/authorize", _oauth_authorize)
    app.router.add_get("/sns/oauth2/access_token", _oauth_token)
    app.router.add_get("/_fake/state", _state)
    app.router.add_get("/_fake/messages", _messages)
    app.router.add_post("/_fake/config", _config)
    app.router.add_post("/_fake/reset", _reset)
    app.router.add_post("/_fake/say", _say)
    return app


def fake_state(app: web.Application) -> FakeWeChat:
    return app[FAKE_KEY]


async def run_fake(
    host: str = "127.0.0.1", port: int = 8081, config: FakeConfig | None = None
) -> None:
    """Serve the stand-in until cancelled (``policybot fake-wechat``)."""
    app = create_fake_app(config)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    state = fake_state(app)
    state.url = f"http://{host}:{port}/"
    log.info("fake WeChat API listening", extra={"url": state.url, "appid": state.config.appid})
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
