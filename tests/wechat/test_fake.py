"""The WeChat stand-in answers like WeChat: raw HTTP against it on loopback,
checking the rules our senders rely on it to enforce."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.wechat.fake import FakeWeChat


class Raw:
    """A bare HTTP client for the fake, with a token already fetched."""

    def __init__(self, fake: FakeWeChat, http: aiohttp.ClientSession) -> None:
        self.fake = fake
        self.http = http
        self.token = ""

    async def stable_token(self, **body: Any) -> dict[str, Any]:
        payload = {
            "grant_type": "client_credential",
            "appid": self.fake.config.appid,
            "secret": self.fake.config.secret,
            **body,
        }
        async with self.http.post(self.fake.url + "cgi-bin/stable_token", json=payload) as r:
            return await r.json(content_type=None)

    async def classic_token(self, **params: str) -> dict[str, Any]:
        query = {
            "grant_type": "client_credential",
            "appid": self.fake.config.appid,
            "secret": self.fake.config.secret,
            **params,
        }
        async with self.http.get(self.fake.url + "cgi-bin/token", params=query) as r:
            return await r.json(content_type=None)

    async def post(self, path: str, body: Any, token: str | None = None) -> dict[str, Any]:
        params = {"access_token": self.token if token is None else token}
        data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        async with self.http.post(self.fake.url + "cgi-bin/" + path, params=params, data=data) as r:
            return await r.json(content_type=None)

    async def get(self, path: str, **params: str) -> dict[str, Any]:
        async with self.http.get(
            self.fake.url + "cgi-bin/" + path, params={"access_token": self.token, **params}
        ) as r:
            return await r.json(content_type=None)


@pytest.fixture
async def raw(fake_wechat: FakeWeChat) -> AsyncIterator[Raw]:
    async with aiohttp.ClientSession() as http:
        client = Raw(fake_wechat, http)
        client.token = (await client.stable_token())["access_token"]
        yield client


def template(openid: str, **extra: Any) -> dict[str, Any]:
    return {
        "touser": openid,
        "template_id": "tpl-1",
        "data": {"thing1": {"value": "通知"}},
        **extra,
    }


async def test_credentials_and_token_lifecycle(raw: Raw) -> None:
    assert (await raw.classic_token(appid="wx-wrong"))["errcode"] == 40013
    assert (await raw.classic_token(secret="wrong"))["errcode"] == 40125
    assert (await raw.stable_token(secret="wrong"))["errcode"] == 40125

    # stable_token: the same token until forced; a forced one keeps the old working for the grace.
    again = await raw.stable_token()
    assert again["access_token"] == raw.token and again["expires_in"] > 7000
    forced = (await raw.stable_token(force_refresh=True))["access_token"]
    assert forced != raw.token
    assert (await raw.post("message/template/send", template("o-fake-000001")))["errcode"] == 0

    # /cgi-bin/token: each call replaces the previous one, which dies after the grace.
    raw.fake.configure(token_grace=0)
    first = (await raw.classic_token())["access_token"]
    second = (await raw.classic_token())["access_token"]
    assert (await raw.post("tags/create", {"tag": {"name": "甲"}}, token=first))["errcode"] == 40001
    assert (await raw.post("tags/create", {"tag": {"name": "甲"}}, token=second)).get(
        "errcode", 0
    ) == 0
    # …and is independent of stable_token.
    assert (await raw.post("tags/create", {"tag": {"name": "乙"}}, token=forced)).get(
        "errcode", 0
    ) == 0

    assert (await raw.post("tags/create", {"tag": {"name": "丙"}}, token=""))["errcode"] == 41001
    raw.fake.expire_tokens()
    assert (await raw.post("tags/create", {"tag": {"name": "丙"}}, token=second))[
        "errcode"
    ] == 42001
    assert raw.fake.calls["stable_token"] == 4
    assert raw.fake.errors[42001] == 1


async def test_recipients_must_follow(raw: Raw) -> None:
    raw.fake.unfollow("o-fake-000002")
    assert (await raw.post("message/template/send", template("o-nobody")))["errcode"] == 40003
    assert (await raw.post("message/template/send", template("o-fake-000002")))["errcode"] == 43004
    sent = await raw.post("message/template/send", template("o-fake-000001"))
    assert sent["errcode"] == 0 and sent["msgid"] > 0
    assert [m["kind"] for m in raw.fake.messages("o-fake-000001")] == ["template"]
    assert raw.fake.messages("o-fake-000002") == []


async def test_template_client_msg_id_deduplicates(raw: Raw) -> None:
    first = await raw.post("message/template/send", template("o-fake-000001", client_msg_id="c1"))
    again = await raw.post("message/template/send", template("o-fake-000001", client_msg_id="c1"))
    assert again == first
    assert len(raw.fake.messages("o-fake-000001")) == 1
    # Without a client id WeChat delivers twice; the fake counts the resident's duplicate.
    await raw.post("message/template/send", template("o-fake-000003"))
    await raw.post("message/template/send", template("o-fake-000003"))
    snapshot = raw.fake.snapshot()
    assert snapshot["delivered"] == {"o-fake-000001": 1, "o-fake-000003": 2}
    assert snapshot["duplicates"] == 1 and snapshot["deduplicated"] == 1


async def test_customer_service_window(raw: Raw) -> None:
    def text(n: int) -> dict[str, Any]:
        return {"touser": "o-fake-000004", "msgtype": "text", "text": {"content": f"回复{n}"}}

    assert (await raw.post("message/custom/send", text(0)))["errcode"] == 45015
    raw.fake.mark_active("o-fake-000004")
    codes = [(await raw.post("message/custom/send", text(n)))["errcode"] for n in range(6)]
    assert codes == [0, 0, 0, 0, 0, 45047]
    assert [m["payload"]["text"]["content"] for m in raw.fake.messages("o-fake-000004")] == [
        f"回复{n}" for n in range(5)
    ]


async def test_ascii_escapes_reach_the_resident_literally(raw: Raw) -> None:
    raw.fake.mark_active("o-fake-000005")
    body = {"touser": "o-fake-000005", "msgtype": "text", "text": {"content": "你好"}}
    await raw.post("message/custom/send", json.dumps(body).encode())  # ensure_ascii=True
    await raw.post("message/custom/send", json.dumps(body, ensure_ascii=False).encode())
    shown = [m["payload"]["text"]["content"] for m in raw.fake.messages("o-fake-000005")]
    assert shown == ["\\u4f60\\u597d", "你好"]


async def test_subscribe_message_declined(raw: Raw) -> None:
    raw.fake.configure(declined=["o-fake-000006"])
    assert (await raw.post("message/subscribe/bizsend", template("o-fake-000006")))[
        "errcode"
    ] == 43101
    assert (await raw.post("message/subscribe/bizsend", template("o-fake-000007")))["errcode"] == 0


async def test_mass_send_rules(raw: Raw) -> None:
    tag = (await raw.post("tags/create", {"tag": {"name": "低保"}}))["tag"]["id"]
    members = ["o-fake-000001", "o-fake-000002", "o-fake-000003"]
    assert (await raw.post("tags/members/batchtagging", {"openid_list": members, "tagid": tag}))[
        "errcode"
    ] == 0
    text = {"msgtype": "text", "text": {"content": "新政策"}}

    # wechatpy 1.8.18's body: group_id is not read by WeChat.
    old = {"filter": {"is_to_all": False, "group_id": tag}, **text}
    assert (await raw.post("message/mass/sendall", old))["errcode"] == 40035

    sent = []
    for n in range(5):
        body = {"filter": {"is_to_all": False, "tag_id": tag}, **text, "clientmsgid": f"m{n}"}
        answer = await raw.post("message/mass/sendall", body)
        assert answer["errcode"] == 0
        sent.append(answer["msg_id"])
    # 4 a month per resident: the fifth send is accepted but reaches nobody.
    assert [j["sent"] for j in raw.fake.mass_jobs] == [3, 3, 3, 3, 0]
    assert raw.fake.mass_jobs[-1]["filtered"] == 3
    assert len(raw.fake.messages("o-fake-000001")) == 4

    repeat = {"filter": {"is_to_all": False, "tag_id": tag}, **text, "clientmsgid": "m0"}
    answer = await raw.post("message/mass/sendall", repeat)
    assert answer["errcode"] == 45065 and answer["msg_id"] == sent[0]
    raw.fake.configure(clientmsgid_retry_interval=60)
    assert (await raw.post("message/mass/sendall", repeat))["errcode"] == 45066
    assert (await raw.post("message/mass/sendall", {**repeat, "clientmsgid": "x" * 65}))[
        "errcode"
    ] == 45067

    to_one = {"touser": ["o-fake-000001"], **text, "clientmsgid": "one"}
    assert (await raw.post("message/mass/send", to_one))["errcode"] == 40130
    raw.fake.configure(mass_daily_quota=0)
    to_two = {"touser": ["o-fake-000008", "o-fake-000009"], **text, "clientmsgid": "two"}
    assert (await raw.post("message/mass/send", to_two))["errcode"] == 45028


async def test_tags_and_users(raw: Raw) -> None:
    raw.fake.configure(followers=120, user_page_size=50)
    tag = (await raw.post("tags/create", {"tag": {"name": "农业"}}))["tag"]["id"]
    assert tag >= 100
    assert (await raw.post("tags/create", {"tag": {"name": "农业"}}))["errcode"] == 45157
    assert (await raw.post("tags/create", {"tag": {"name": "长" * 31}}))["errcode"] == 45158
    many = [f"o-fake-{i:06d}" for i in range(1, 52)]
    assert (await raw.post("tags/members/batchtagging", {"openid_list": many, "tagid": tag}))[
        "errcode"
    ] == 40032
    assert (await raw.post("tags/members/batchtagging", {"openid_list": many[:50], "tagid": 999}))[
        "errcode"
    ] == 45159
    await raw.post("tags/members/batchtagging", {"openid_list": many[:50], "tagid": tag})
    await raw.post("tags/members/batchuntagging", {"openid_list": many[:10], "tagid": tag})
    tags = {t["name"]: t["count"] for t in (await raw.get("tags/get"))["tags"]}
    assert tags == {"星标组": 0, "农业": 40}
    assert (await raw.post("tags/getidlist", {"openid": many[20]}))["tagid_list"] == [tag]

    pages, next_openid = [], ""
    while True:
        page = await raw.get("user/get", **({"next_openid": next_openid} if next_openid else {}))
        assert page["total"] == 120
        if not page["count"]:
            break
        pages.append(page["data"]["openid"])
        next_openid = page["next_openid"]
    assert [len(p) for p in pages] == [50, 50, 20]
    assert len({o for p in pages for o in p}) == 120

    users = [{"openid": o} for o in many[:2]]
    info = (await raw.post("user/info/batchget", {"user_list": users}))["user_info_list"]
    assert [(u["subscribe"], u["tagid_list"]) for u in info] == [(1, []), (1, [])]
    big = [{"openid": f"o-fake-{i:06d}"} for i in range(1, 102)]
    assert (await raw.post("user/info/batchget", {"user_list": big}))["errcode"] == 40032


async def test_menu_quota_and_injected_errors(raw: Raw) -> None:
    menu = {"button": [{"type": "click", "name": "政策查询", "key": "SEARCH"}]}
    assert (await raw.get("menu/get"))["errcode"] == 46003
    assert (await raw.post("menu/create", menu))["errcode"] == 0  # WeChat says "ok" here
    assert (await raw.get("menu/get"))["menu"] == menu
    raw.fake.configure(menu_authorized=False)
    assert (await raw.post("menu/create", menu))["errcode"] == 48001

    raw.fake.configure(daily_quota={"tags/get": 2})
    codes = [(await raw.get("tags/get")).get("errcode", 0) for _ in range(3)]
    assert codes == [0, 0, 45009]

    raw.fake.configure(error_rate=0.5, seed=7)
    codes = [(await raw.get("user/get")).get("errcode", 0) for _ in range(40)]
    assert set(codes) == {0, -1} and 5 < codes.count(-1) < 35
    raw.fake.reset()
    raw.fake.configure(error_rate=0.5, seed=7)
    token = (await raw.stable_token())["access_token"]
    again = [(await raw.get("user/get", access_token=token)).get("errcode", 0) for _ in range(40)]
    assert again == codes  # seeded: the same calls fail every run


async def test_ops_endpoints(raw: Raw) -> None:
    http, url = raw.http, raw.fake.url
    async with http.post(
        url + "_fake/config", json={"active": ["o-fake-000001"], "follow": ["o-new"]}
    ) as r:
        assert r.status == 200
    async with http.post(url + "_fake/config", json={"no_such_key": 1}) as r:
        assert r.status == 400
    body = {"touser": "o-fake-000001", "msgtype": "text", "text": {"content": "好"}}
    assert (await raw.post("message/custom/send", body))["errcode"] == 0
    async with http.get(url + "_fake/state") as r:
        state = await r.json()
    assert state["delivered"] == {"o-fake-000001": 1}
    assert state["followers"] == 21 and state["token_calls"] == 1
    assert state["calls"]["message/custom/send"] == 1
    async with http.get(url + "_fake/messages", params={"openid": "o-fake-000001"}) as r:
        assert (await r.json())["messages"][0]["payload"]["text"]["content"] == "好"
    async with http.post(url + "_fake/reset") as r:
        assert r.status == 200
    async with http.get(url + "_fake/state") as r:
        state = await r.json()
    assert state["total_delivered"] == 0 and state["calls"] == {} and state["followers"] == 20
    assert (await raw.post("message/custom/send", body))["errcode"] == 40001  # tokens forgotten
