"""The callback as WeChat's servers see it: URL check, plain and safe mode,
hostile bodies, retries, slow handlers, events and other message types."""

from __future__ import annotations

import asyncio
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from bot.app import create_app
from bot.config import Settings
from bot.models import Feedback, HandledMessage, Subscriber
from bot.services import open_services
from tests.conftest import make_settings
from tests.processes import Service
from tests.wechat.wx import RemoteClient, WeChatServer, event_xml, message_xml, signature, text_xml

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


async def _client(settings: Settings) -> TestClient:
    client = TestClient(TestServer(create_app(settings, role="web"), host="127.0.0.1"))
    await client.start_server()
    return client


@pytest.fixture
async def wechat(client: TestClient) -> WeChatServer:
    return WeChatServer(client)


# -- URL verification ---------------------------------------------------------


async def test_url_verification_echoes_only_when_signed(wechat: WeChatServer) -> None:
    q = wechat.query()
    ok = await wechat.client.get("/wechat", params={**q, "echostr": "5838479218127813673"})
    assert ok.status == 200
    assert await ok.text() == "5838479218127813673"
    q["signature"] = "0" * 40
    bad = await wechat.client.get("/wechat", params={**q, "echostr": "x"})
    assert bad.status == 403


# -- plain mode ---------------------------------------------------------------


async def test_help_reply_in_plain_mode(wechat: WeChatServer) -> None:
    reply = await wechat.send(text_xml("帮助"))
    assert reply.status == 200
    assert reply.xml["ToUserName"] == "o-resident-1"
    assert reply.xml["FromUserName"] == "gh_account"
    assert "订阅" in reply.text and "留言" in reply.text


@pytest.mark.parametrize(
    "body, status",
    [
        pytest.param(text_xml("帮助"), 403, id="bad-signature"),
    ],
)
async def test_bad_signature_is_refused(wechat: WeChatServer, body: str, status: int) -> None:
    q = wechat.query()
    q["signature"] = signature("not-our-token", q["timestamp"], q["nonce"])
    reply = await wechat.post_raw(body, q)
    assert reply.status == status


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    "<xml><ToUserName>a</ToUserName><FromUserName>o-x</FromUserName><CreateTime>1</CreateTime>"
    "<MsgType>text</MsgType><Content>留言 &lol3;</Content><MsgId>1</MsgId></xml>"
)
XXE = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    "<xml><ToUserName>a</ToUserName><FromUserName>o-x</FromUserName><CreateTime>1</CreateTime>"
    "<MsgType>text</MsgType><Content>留言 &xxe;</Content><MsgId>2</MsgId></xml>"
)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"<xml><MsgType>text", id="truncated"),
        pytest.param(b"not xml at all", id="not-xml"),
        pytest.param(BILLION_LAUGHS.encode(), id="entity-expansion"),
        pytest.param(XXE.encode(), id="xxe"),
        pytest.param(text_xml("留言 " + "长" * 40000).encode(), id="oversize"),
        pytest.param(text_xml("留言 abc").encode().replace(b"abc", b"\xff\xfe"), id="invalid-utf8"),
        pytest.param(b"<xml><Content>no sender</Content></xml>", id="not-a-message"),
    ],
)
async def test_hostile_bodies_get_400_and_store_nothing(wechat: WeChatServer, body: bytes) -> None:
    reply = await wechat.post_raw(body)
    assert reply.status == 400
    assert await Feedback.all().count() == 0
    assert await HandledMessage.all().count() == 0


async def test_reply_stays_well_formed_and_within_limits(wechat: WeChatServer) -> None:
    hostile = "]]><script>x</script>\x01\x07 低保 " + "危房改造 " * 400
    reply = await wechat.send(
        message_xml("text", {"Content": hostile}).replace(
            "<![CDATA[" + hostile + "]]>", _escape(hostile)
        )
    )
    assert reply.status == 200
    ET.fromstring(reply.body)  # well-formed
    assert len(reply.text.encode("utf-8")) < 2048


def _escape(text: str) -> str:
    # WeChat escapes the resident's text inside the XML it sends; control characters are
    # not allowed in XML 1.0 at all, so WeChat drops them before we see them.
    return (
        "".join(ch for ch in text if ch >= " ")
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
    )


async def test_echoed_cdata_terminator_keeps_reply_well_formed(wechat: WeChatServer) -> None:
    reply = await wechat.send(text_xml("留言 我家]]>漏雨"))
    assert reply.status == 200
    ET.fromstring(reply.body)
    assert (await Feedback.get()).text == "我家]]>漏雨"


# -- retries -----------------------------------------------------------------


async def test_retry_gets_same_reply_without_repeating_side_effect(wechat: WeChatServer) -> None:
    xml = text_xml("留言 路灯坏了", msg_id="7000000000000000001")
    first = await wechat.send(xml)
    second = await wechat.send(xml)
    assert first.status == second.status == 200
    assert first.text == second.text
    assert "已收到" in first.text
    assert await Feedback.all().count() == 1


async def test_copies_arriving_at_once_are_handled_once_each(wechat: WeChatServer) -> None:
    """Messages that arrive together are claimed in one statement: a copy among them is
    still recognised, and every different message is handled."""
    copy = text_xml("留言 同时到达", openid="o-copy", msg_id="7000000000000000009")
    others = [
        text_xml(f"留言 第{i}件", openid=f"o-other-{i}", msg_id=f"70000000000000001{i:02d}")
        for i in range(6)
    ]
    replies = await asyncio.gather(*(wechat.send(x) for x in [copy, *others, copy, copy]))
    assert {r.status for r in replies} == {200}
    copies = [replies[0], *replies[-2:]]
    assert len({r.text for r in copies if r.body != "success"}) == 1
    assert await Feedback.filter(text="同时到达").count() == 1
    assert sorted(f.text for f in await Feedback.filter(text__startswith="第")) == [
        f"第{i}件" for i in range(6)
    ]


async def test_event_retry_is_recognised_by_sender_time_and_event(wechat: WeChatServer) -> None:
    xml = event_xml("subscribe", openid="o-new", created=int(time.time()) - 10)
    await wechat.send(xml)
    await Subscriber.filter(openid="o-new").update(region="城关镇")
    again = await wechat.send(xml)
    assert "感谢关注" in again.text
    assert (await Subscriber.get(openid="o-new")).region == "城关镇"  # not re-initialised


@pytest.mark.parametrize(
    "db_url, shared",
    [("sqlite", "database"), ("postgres", "database"), ("postgres", "redis")],
    indirect=["db_url"],
)
async def test_retry_to_another_process_repeats_nothing(settings: Settings, shared: str) -> None:
    """WeChat's retry may reach another process behind the load balancer."""
    if shared == "redis":
        settings = settings.model_copy(
            update={"redis": settings.redis.model_copy(update={"url": "redis://127.0.0.1:6379/15"})}
        )
        conn = Redis.from_url("redis://127.0.0.1:6379/15")
        await conn.flushdb()
        await conn.aclose()
    services = [Service(settings), Service(settings)]
    try:
        await asyncio.gather(*(s.start() for s in services))
        async with aiohttp.ClientSession() as http:
            a, b = (WeChatServer(RemoteClient(http, s.url)) for s in services)
            xml = text_xml("留言 两个进程", msg_id="7000000000000000002")
            replies = await asyncio.gather(a.send(xml), b.send(xml), a.send(xml), b.send(xml))
    finally:
        for s in services:
            s.stop()
    assert {r.status for r in replies} == {200}
    assert len({r.text for r in replies if r.body != "success"}) == 1
    assert await _count_feedback(settings, "两个进程") == 1


async def _count_feedback(settings: Settings, text: str) -> int:
    async with open_services(settings):
        return await Feedback.filter(text=text).count()


# -- slow handler ------------------------------------------------------------


async def test_slow_reply_answers_success_and_follows_by_customer_message(
    db_url: str, fake_wechat: Any
) -> None:
    settings = make_settings(db_url, fake_wechat.url, server={"reply_timeout": 0.001})
    client = await _client(settings)
    try:
        openid = "o-fake-000001"
        fake_wechat.mark_active(openid)  # WeChat opens the customer-service window as she writes
        reply = await WeChatServer(client).send(text_xml("帮助", openid=openid))
        assert reply.status == 200
        assert reply.body == "success"
        for _ in range(50):
            if fake_wechat.messages(openid):
                break
            await asyncio.sleep(0.05)
        sent = fake_wechat.messages(openid)
        assert len(sent) == 1
        assert "订阅" in sent[0]["payload"]["text"]["content"]
    finally:
        await client.close()


# -- safe mode ----------------------------------------------------------------


async def test_safe_mode_round_trip(db_url: str, fake_wechat: Any) -> None:
    settings = make_settings(db_url, fake_wechat.url, wechat={"encoding_aes_key": AES_KEY})
    client = await _client(settings)
    try:
        wechat = WeChatServer(client, aes_key=AES_KEY, appid=settings.wechat.appid)
        reply = await wechat.send(text_xml("帮助"))
        assert reply.status == 200
        assert "订阅" in ET.fromstring(reply.body).findtext("Content", "")
        # A tampered envelope is refused like a bad signature.
        q = wechat.query()
        q.update(encrypt_type="aes", msg_signature="0" * 40)
        tampered = await wechat.post_raw(b"<xml><Encrypt><![CDATA[abc]]></Encrypt></xml>", q)
        assert tampered.status == 403
    finally:
        await client.close()


TENCENT_ENCRYPT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2Ld"
    "JF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5V"
    "Tjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCS"
    "UdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9Ghgl"
    "F2PE="
)


async def test_tencent_known_answer_compatible_mode(db_url: str, fake_wechat: Any) -> None:
    settings = make_settings(
        db_url,
        fake_wechat.url,
        wechat={
            "token": "spamtest",
            "encoding_aes_key": AES_KEY,
            "appid": "wx2c2769f8efd9abc2",
            "timestamp_window": 20 * 365 * 86400,  # Tencent's sample is from 2014
        },
    )
    client = await _client(settings)
    try:
        wechat = WeChatServer(client, token="spamtest", aes_key=AES_KEY, appid="wx2c2769f8efd9abc2")
        body = (
            "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>"
            "<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>"
            "<CreateTime>1409735668</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            "<Content><![CDATA[abcdteT]]></Content><MsgId>6054768590064713728</MsgId>"
            f"<Encrypt><![CDATA[{TENCENT_ENCRYPT}]]></Encrypt></xml>"
        )
        q = {
            "signature": signature("spamtest", "1409735669", "1320562132"),
            "timestamp": "1409735669",
            "nonce": "1320562132",
            "openid": "oyORnuP8q7ou2gfYjqLzSIWZf0rs",
            "encrypt_type": "aes",
            "msg_signature": "5d197aaffba7e9b25a30732f161a50dee96bd5fa",
        }
        reply = await wechat.post_raw(body, q)
        assert reply.status == 200
        root = ET.fromstring(reply.body)
        plain = wechat.crypto.decrypt_message(  # type: ignore[union-attr]
            reply.body,
            root.findtext("MsgSignature"),
            root.findtext("TimeStamp"),
            root.findtext("Nonce"),
        )
        assert ET.fromstring(plain).findtext("ToUserName") == "oyORnuP8q7ou2gfYjqLzSIWZf0rs"
        assert await HandledMessage.filter(key="msg:6054768590064713728").exists()
    finally:
        await client.close()


# -- events and other message types --------------------------------------------


async def test_follow_unfollow_click_view_and_media(wechat: WeChatServer) -> None:
    welcome = await wechat.send(event_xml("subscribe", openid="o-a"))
    assert "感谢关注" in welcome.text
    assert (await Subscriber.get(openid="o-a")).following

    click = await wechat.send(event_xml("CLICK", openid="o-a", key="FEEDBACK_HELP"))
    assert "留言" in click.text
    helped = await wechat.send(event_xml("CLICK", openid="o-a", key="HELP"))
    assert "查政策" in helped.text

    view = await wechat.send(event_xml("VIEW", openid="o-a", key="http://policy.test/policies"))
    assert view.body == "success"

    image = await wechat.send(
        message_xml("image", {"PicUrl": "http://x/y.jpg", "MediaId": "m1"}, openid="o-a")
    )
    assert "图片" in image.text
    location = await wechat.send(
        message_xml(
            "location",
            {"Location_X": "30.1", "Location_Y": "120.2", "Scale": "15", "Label": "城关镇"},
            openid="o-a",
        )
    )
    assert "位置" in location.text
    link = await wechat.send(
        message_xml("link", {"Title": "t", "Description": "d", "Url": "http://x"}, openid="o-a")
    )
    assert "链接" in link.text

    popup = await wechat.send(event_xml("subscribe_msg_popup_event", openid="o-a"))
    assert popup.status == 200 and popup.body == "success"

    bye = await wechat.send(event_xml("unsubscribe", openid="o-a"))
    assert bye.body == "success"
    assert not (await Subscriber.get(openid="o-a")).following


async def test_old_message_claims_are_purged_at_start(db_url: str, fake_wechat: Any) -> None:
    """WeChat only retries for 15 s: day-old claims are dropped so the table does not grow forever."""
    settings = make_settings(db_url, fake_wechat.url)
    async with open_services(settings):
        old = await HandledMessage.create(key="msg:old", reply="null")
        await HandledMessage.filter(key=old.key).update(
            created_at=datetime.now(UTC) - timedelta(days=2)
        )
        await HandledMessage.create(key="msg:recent", reply="null")
    client = await _client(settings)
    try:
        for _ in range(50):
            if not await HandledMessage.filter(key="msg:old").exists():
                break
            await asyncio.sleep(0.05)
        assert not await HandledMessage.filter(key="msg:old").exists()
        assert await HandledMessage.filter(key="msg:recent").exists()
    finally:
        await client.close()
