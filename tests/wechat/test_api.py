"""The async WeChat client against the stand-in over loopback: one shared token
(database or Redis), refresh-and-retry once, and the sending, tag and user
calls posting what WeChat expects."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis

from bot import db
from bot.config import Settings, WeChatSettings
from bot.models import AccessToken
from bot.wechat.api import WeChatAPI
from bot.wechat.errors import WeChatError
from bot.wechat.fake import FakeWeChat

REDIS_URL = "redis://127.0.0.1:6379/0"
TEXT = {"msgtype": "text", "text": {"content": "新政策发布"}}
DATA = {"thing1": {"value": "医保缴费"}}

MakeAPI = Callable[..., WeChatAPI]


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


@pytest.fixture
async def on_db(settings: Settings, http: aiohttp.ClientSession) -> AsyncIterator[MakeAPI]:
    """Clients sharing the test database (sqlite and postgres)."""
    async with db.database(settings.database.url):
        yield lambda: WeChatAPI(settings.wechat, http)


@pytest.fixture
async def on_redis(fake_wechat: FakeWeChat, http: aiohttp.ClientSession) -> AsyncIterator[MakeAPI]:
    """Clients sharing Redis under a key prefix of this test's own (no database needed)."""
    redis = Redis.from_url(REDIS_URL, decode_responses=True)
    prefix = f"test:{uuid.uuid4().hex}:"
    settings = WeChatSettings(
        appid=fake_wechat.config.appid,
        secret=fake_wechat.config.secret,
        api_base_url=fake_wechat.url,
    )

    def make(**kwargs: Any) -> WeChatAPI:
        return WeChatAPI(settings, http, redis=redis, key_prefix=prefix, **kwargs)

    make.redis = redis  # type: ignore[attr-defined]
    make.prefix = prefix  # type: ignore[attr-defined]
    yield make
    keys = [k async for k in redis.scan_iter(match=prefix + "*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


# -- the shared token (database) -------------------------------------------------------


async def test_token_fetched_once_and_shared_through_database(
    on_db: MakeAPI, fake_wechat: FakeWeChat
) -> None:
    first, second = on_db(), on_db()  # two processes' worth of clients
    await first.send_template("o-fake-000001", "tpl", DATA)
    await second.send_template("o-fake-000002", "tpl", DATA)
    assert fake_wechat.calls["stable_token"] == 1
    assert fake_wechat.snapshot()["delivered"] == {"o-fake-000001": 1, "o-fake-000002": 1}
    row = await AccessToken.get(appid=fake_wechat.config.appid)
    assert row.token == fake_wechat.current_token["stable_token"]


async def test_concurrent_refresh_fetches_one_token(
    on_db: MakeAPI, fake_wechat: FakeWeChat
) -> None:
    clients = [on_db() for _ in range(6)]
    await asyncio.gather(
        *(c.send_template(f"o-fake-{i + 1:06d}", "tpl", DATA) for i, c in enumerate(clients))
    )
    assert fake_wechat.calls["stable_token"] == 1
    assert fake_wechat.total_delivered == 6


async def test_expired_token_is_refreshed_and_the_call_retried_once(
    on_db: MakeAPI, fake_wechat: FakeWeChat, caplog: pytest.LogCaptureFixture
) -> None:
    api, other = on_db(), on_db()
    await api.send_template("o-fake-000001", "tpl", DATA)
    fake_wechat.expire_tokens()
    caplog.set_level("INFO", logger="bot.wechat")
    msgid = await api.send_template("o-fake-000002", "tpl", DATA)
    assert msgid > 0
    assert fake_wechat.errors[42001] == 1
    assert fake_wechat.calls["stable_token"] == 2
    # The other process picks the new token up from the database without asking WeChat.
    await other.send_template("o-fake-000003", "tpl", DATA)
    assert fake_wechat.calls["stable_token"] == 2 and fake_wechat.total_delivered == 3
    assert "access token refreshed" in caplog.text
    secret = fake_wechat.config.secret
    assert all(t not in caplog.text for t in [*fake_wechat.tokens, secret])


async def test_token_rejected_for_good_fails_after_one_retry(
    on_db: MakeAPI, fake_wechat: FakeWeChat
) -> None:
    fake_wechat.configure(fail={"message/template/send": 40001})
    with pytest.raises(WeChatError) as caught:
        await on_db().send_template("o-fake-000001", "tpl", DATA)
    assert caught.value.token_invalid and not caught.value.permanent
    assert fake_wechat.calls["message/template/send"] == 2
    # Asked without force first (the same token back), then forced once.
    assert fake_wechat.calls["stable_token"] == 3
    assert fake_wechat.total_delivered == 0


# -- the shared token (Redis) ----------------------------------------------------------


async def test_redis_shares_a_plain_token(on_redis: MakeAPI, fake_wechat: FakeWeChat) -> None:
    first, second = on_redis(), on_redis()
    await asyncio.gather(
        first.send_template("o-fake-000001", "tpl", DATA),
        second.send_template("o-fake-000002", "tpl", DATA),
        on_redis().send_template("o-fake-000003", "tpl", DATA),
    )
    assert fake_wechat.calls["stable_token"] == 1
    redis: Redis = on_redis.redis  # type: ignore[attr-defined]
    stored = await redis.get(f"{on_redis.prefix}wechat:access_token:{fake_wechat.config.appid}")  # type: ignore[attr-defined]
    assert stored == fake_wechat.current_token["stable_token"]  # not JSON-quoted (wechatpy #484)
    assert (
        0
        < await redis.ttl(f"{on_redis.prefix}wechat:access_token:{fake_wechat.config.appid}")
        <= 7200
    )  # type: ignore[attr-defined]


async def test_token_renewed_before_it_expires(on_redis: MakeAPI, fake_wechat: FakeWeChat) -> None:
    fake_wechat.configure(token_ttl=1)
    api = on_redis()
    await api.send_template("o-fake-000001", "tpl", DATA)
    await asyncio.sleep(1.0)
    await api.send_template("o-fake-000001", "tpl", DATA)
    assert fake_wechat.calls["stable_token"] == 2
    assert not fake_wechat.errors  # never used an expired token


# -- calls -----------------------------------------------------------------------------


async def test_mass_send_by_tag_and_its_retry(on_redis: MakeAPI, fake_wechat: FakeWeChat) -> None:
    api = on_redis()
    tag = await api.create_tag("社保")
    await api.tag_users(tag["id"], ["o-fake-000001", "o-fake-000002"])
    msg_id = await api.mass_send_by_tag(tag["id"], TEXT, clientmsgid="campaign-1-run-1")
    assert fake_wechat.snapshot()["delivered"] == {"o-fake-000001": 1, "o-fake-000002": 1}
    assert fake_wechat.mass_jobs[0]["target"] == {"tag_id": tag["id"]}
    # A retry after a lost answer: WeChat says 45065 with the earlier msg_id — a success.
    again = await api.mass_send_by_tag(tag["id"], TEXT, clientmsgid="campaign-1-run-1")
    assert again == msg_id
    assert fake_wechat.total_delivered == 2 and fake_wechat.duplicates == 0

    fake_wechat.configure(clientmsgid_retry_interval=60)
    with pytest.raises(WeChatError) as caught:
        await api.mass_send_by_tag(tag["id"], TEXT, clientmsgid="campaign-1-run-1")
    assert caught.value.code == 45066 and caught.value.transient

    by_list = await api.mass_send_to_openids(
        ["o-fake-000003", "o-fake-000004"], TEXT, clientmsgid="campaign-2"
    )
    assert by_list != msg_id and fake_wechat.total_delivered == 4


async def test_tags_and_followers(on_redis: MakeAPI, fake_wechat: FakeWeChat) -> None:
    fake_wechat.configure(followers=130, user_page_size=60)
    api = on_redis()
    tag = await api.create_tag("农业补贴")
    everyone = [o async for page, _ in api.iter_followers() for o in page]
    assert len(everyone) == 130 and len(set(everyone)) == 130
    assert fake_wechat.calls["user/get"] == 4  # 60 + 60 + 10, then the empty page

    await api.tag_users(tag["id"], everyone[:120])
    assert fake_wechat.calls["tags/members/batchtagging"] == 3  # 50 + 50 + 20
    await api.untag_users(tag["id"], everyone[:5])
    counts = {t["name"]: t["count"] for t in await api.get_tags()}
    assert counts["农业补贴"] == 115
    assert await api.get_user_tags(everyone[10]) == [tag["id"]]

    info = await api.batch_user_info(everyone)
    assert fake_wechat.calls["user/info/batchget"] == 2
    assert len(info) == 130 and info[10]["tagid_list"] == [tag["id"]]
    await api.rename_tag(tag["id"], "农业")
    await api.delete_tag(tag["id"])
    assert [t["name"] for t in await api.get_tags()] == ["星标组"]


async def test_messages_arrive_as_residents_read_them(
    on_redis: MakeAPI, fake_wechat: FakeWeChat
) -> None:
    api = on_redis()
    fake_wechat.mark_active("o-fake-000001")
    await api.send_custom_text("o-fake-000001", "您好，已收到留言")
    article = {"title": "低保政策解读", "description": "摘要", "url": "http://policy.test/p/1"}
    await api.send_custom_news("o-fake-000001", article)
    await api.send_subscribe_message(
        "o-fake-000002", "sub-tpl", DATA, page="http://policy.test/p/1"
    )
    await api.send_template(
        "o-fake-000003", "tpl", DATA, url="http://policy.test/p/1", client_msg_id="d-1"
    )
    [text, news] = fake_wechat.messages("o-fake-000001")
    assert text["payload"]["text"]["content"] == "您好，已收到留言"  # no \\u escapes
    assert news["payload"]["news"]["articles"] == [article]
    assert fake_wechat.messages("o-fake-000002")[0]["payload"]["page"] == "http://policy.test/p/1"
    assert fake_wechat.messages("o-fake-000003")[0]["client_id"] == "d-1"

    menu = {"button": [{"type": "click", "name": "政策查询", "key": "SEARCH"}]}
    await api.create_menu(menu)
    assert (await api.get_menu())["menu"] == menu
    await api.delete_menu()
    with pytest.raises(WeChatError) as caught:
        await api.get_menu()
    assert caught.value.code == 46003


async def test_refusals_are_classified(on_redis: MakeAPI, fake_wechat: FakeWeChat) -> None:
    api = on_redis()
    fake_wechat.unfollow("o-fake-000002")
    fake_wechat.configure(declined=["o-fake-000003"])
    cases = [
        api.send_custom_text("o-fake-000001", "不在 48 小时内"),
        api.send_template("o-fake-000002", "tpl", DATA),
        api.send_template("o-stranger", "tpl", DATA),
        api.send_subscribe_message("o-fake-000003", "sub-tpl", DATA),
    ]
    codes = []
    for call in cases:
        with pytest.raises(WeChatError) as caught:
            await call
        assert caught.value.permanent
        codes.append(caught.value.code)
    assert codes == [45015, 43004, 40003, 43101]


async def test_busy_and_lost_answers_are_transient(
    on_redis: MakeAPI, fake_wechat: FakeWeChat
) -> None:
    api = on_redis()
    fake_wechat.configure(error_rate=0.5, seed=3)
    outcomes = []
    for i in range(16):
        try:
            await api.send_template(f"o-fake-{i + 1:06d}", "tpl", DATA)
            outcomes.append(0)
        except WeChatError as exc:
            assert exc.transient and not exc.permanent
            outcomes.append(exc.code)
    assert set(outcomes) == {0, -1}
    assert fake_wechat.total_delivered == outcomes.count(0)

    # WeChat accepted the message but the answer was lost: transient to us, delivered to them.
    fake_wechat.configure(error_rate=0, ack_loss_rate=1.0)
    with pytest.raises(WeChatError) as caught:
        await api.send_template("o-fake-000020", "tpl", DATA, client_msg_id="retry-me")
    assert caught.value.transient
    fake_wechat.configure(ack_loss_rate=0)
    await api.send_template("o-fake-000020", "tpl", DATA, client_msg_id="retry-me")
    assert [m["client_id"] for m in fake_wechat.messages("o-fake-000020")] == ["retry-me"]


async def test_unreachable_wechat_and_demo_mode(http: aiohttp.ClientSession) -> None:
    demo = WeChatAPI(WeChatSettings(), http)
    assert not demo.enabled
    with pytest.raises(WeChatError) as caught:
        await demo.send_custom_text("o-1", "hi")
    assert caught.value.permanent

    closed = WeChatSettings(appid="wx1", secret="s", api_base_url="http://127.0.0.1:9/")
    redis = Redis.from_url(REDIS_URL)
    try:
        api = WeChatAPI(closed, http, redis=redis, key_prefix=f"test:{uuid.uuid4().hex}:")
        with pytest.raises(WeChatError) as caught:
            await api.get_tags()
    finally:
        await redis.aclose()
    assert caught.value.transient and caught.value.code == -2
