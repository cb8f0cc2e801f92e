"""Campaigns through the admin API, delivered by the real workers to the
WeChat stand-in: roles, approval by another person, test sends, exactly-once
delivery, late subscribers, cancel, report and retry."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient

from bot.accounts import services as accounts
from bot.audit import Actor
from bot.models import Subscriber
from bot.push.models import Campaign, Delivery
from bot.wechat.fake import FakeWeChat
from tests.push.conftest import EDITOR, EDITOR2, REVIEWER, add_residents, eventually, fake_ids


async def _create(api: TestClient, **body: Any) -> dict[str, Any]:
    payload = {"title": "低保标准提高", "text": "2025 年起城乡低保标准提高。", "channel": "template",
               "audience": {"topics": ["relief"]}, **body}  # fmt: skip
    resp = await api.post("/api/v1/admin/campaigns", json=payload, headers=EDITOR)
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def _state(api: TestClient, cid: int) -> dict[str, Any]:
    resp = await api.get(f"/api/v1/admin/campaigns/{cid}", headers=REVIEWER)
    assert resp.status == 200
    return await resp.json()


async def test_campaign_reaches_its_audience_once_and_only_it(
    api: TestClient, runtime: Any, fake_wechat: FakeWeChat
) -> None:
    relief = fake_ids(1, 12)
    await add_residents(relief, topics=["relief"])
    await add_residents(fake_ids(13, 16), topics=["subsidies"])

    # Roles: no token 401, reviewer cannot create 403; bad audience 422 as JSON.
    assert (await api.post("/api/v1/admin/campaigns", json={})).status == 401
    resp = await api.post("/api/v1/admin/campaigns", json={"title": "x"}, headers=REVIEWER)
    assert resp.status == 403
    resp = await api.post(
        "/api/v1/admin/campaigns",
        headers=EDITOR,
        json={"title": "x", "text": "y", "channel": "template", "audience": {"topics": ["火星"]}},
    )
    assert resp.status == 422 and "火星" in (await resp.json())["error"]["message"]

    resp = await api.get(
        "/api/v1/admin/subscribers", params={"topic": "低保", "per_page": "5"}, headers=EDITOR
    )
    listing = await resp.json()
    assert (
        listing["total"] == 12
        and len(listing["items"]) == 5
        and listing["items"][0]["topics"] == ["relief"]
    )

    created = await _create(api)
    assert created["state"] == "draft" and created["audience_count"] == 12
    cid = created["id"]

    # A test send reaches only a tester an admin registered, before approval.
    await accounts.add_tester("测试员", "o-fake-000020", Actor("管理员", "admin"))
    resp = await api.post(f"/api/v1/admin/campaigns/{cid}/test-send", json={"openids": ["o-fake-000020"]},
                          headers=EDITOR)  # fmt: skip
    assert resp.status == 202
    await eventually(lambda: _async(len(fake_wechat.messages("o-fake-000020")) == 1))
    assert (await _state(api, cid))["counts"]["sent"] == 0  # tests are not the campaign's counts

    # The author cannot approve; an editor cannot approve; another reviewer can.
    assert (await api.post(f"/api/v1/admin/campaigns/{cid}/approve", headers=EDITOR)).status == 403
    resp = await api.post(f"/api/v1/admin/campaigns/{cid}/approve", headers=REVIEWER)
    assert resp.status == 200 and (await resp.json())["state"] in ("scheduled", "sending", "done")

    done = await eventually(lambda: _done(api, cid))
    assert done["counts"] == {"pending": 0, "sent": 12, "failed": 0, "skipped": 0}
    for openid in relief:
        msgs = fake_wechat.messages(openid)
        assert len(msgs) == 1 and msgs[0]["kind"] == "template"
        assert msgs[0]["payload"]["data"]["title"]["value"] == "低保标准提高"
    assert not fake_wechat.messages("o-fake-000013")  # other topic: nothing
    assert fake_wechat.duplicates == 0

    # Someone subscribing after the send is not sent it by accident…
    await add_residents(["o-fake-000017"], topics=["relief"])
    report = await (await api.get(f"/api/v1/admin/campaigns/{cid}/report", headers=EDITOR)).json()
    assert report["new_audience"] == 1
    assert not fake_wechat.messages("o-fake-000017")
    # …but the editor can send it to them later, and only to them.
    resp = await api.post(f"/api/v1/admin/campaigns/{cid}/send-to-new", headers=EDITOR)
    assert resp.status == 202
    done = await eventually(lambda: _done(api, cid))
    assert done["counts"]["sent"] == 13
    assert len(fake_wechat.messages("o-fake-000017")) == 1
    assert all(len(fake_wechat.messages(o)) == 1 for o in relief)


async def test_refusals_are_recorded_and_retry_failed_resends_only_those(
    api: TestClient, runtime: Any, fake_wechat: FakeWeChat
) -> None:
    residents = fake_ids(1, 10)
    await add_residents(residents, topics=["relief"])
    fake_wechat.unfollow("o-fake-000003")  # WeChat answers 43004
    fake_wechat.configure(fail={"message/template/send": -1})  # every call busy at first

    cid = (await _create(api))["id"]
    await api.post(f"/api/v1/admin/campaigns/{cid}/approve", headers=REVIEWER)
    await eventually(lambda: _retrying(cid))  # busy answers are retried with backoff…
    fake_wechat.configure(fail={})
    done = await eventually(lambda: _done(api, cid))
    assert done["counts"] == {"pending": 0, "sent": 9, "failed": 1, "skipped": 0}

    report = await (await api.get(f"/api/v1/admin/campaigns/{cid}/report", headers=REVIEWER)).json()
    assert report["errors"] == {"43004": 1}
    assert report["failures"][0]["openid"] == "o-fake-000003"
    resident = await Subscriber.get(openid="o-fake-000003")
    assert not resident.following and resident.blocked_reason.startswith("43004")
    assert all(len(fake_wechat.messages(o)) == 1 for o in residents if o != "o-fake-000003")

    # The resident follows again (in WeChat and here): retry reaches them, nobody else twice.
    fake_wechat.follow("o-fake-000003")
    await Subscriber.filter(openid="o-fake-000003").update(following=True, blocked_reason=None)
    resp = await api.post(f"/api/v1/admin/campaigns/{cid}/retry-failed", headers=EDITOR2)
    assert (await resp.json())["retried"] == 1
    done = await eventually(lambda: _done(api, cid))
    assert done["counts"]["sent"] == 10 and done["counts"]["failed"] == 0
    assert all(len(fake_wechat.messages(o)) == 1 for o in residents)
    assert fake_wechat.duplicates == 0


async def test_cancel_stops_a_send_in_progress(
    api: TestClient, services: Any, fake_wechat: FakeWeChat
) -> None:
    from bot.push.runtime import push_runtime

    slow = services.settings.model_copy(update={"push": services.settings.push.model_copy(
        update={"rate_per_second": 20.0, "workers": 2})})  # fmt: skip
    services.settings = slow
    await add_residents(
        fake_ids(1, 20) + [f"o-extra-{i:04d}" for i in range(300)], topics=["relief"]
    )
    fake_wechat.follow(*[f"o-extra-{i:04d}" for i in range(300)])
    async with push_runtime(services):
        cid = (await _create(api))["id"]
        await api.post(f"/api/v1/admin/campaigns/{cid}/approve", headers=REVIEWER)
        await eventually(lambda: _async(fake_wechat.total_delivered >= 10))
        resp = await api.post(f"/api/v1/admin/campaigns/{cid}/cancel", headers=EDITOR)
        assert (await resp.json())["state"] == "cancelled"
        await _sleep(1.5)  # workers notice within a second; what they held is dropped
        settled = fake_wechat.total_delivered
        await _sleep(1.0)
        assert fake_wechat.total_delivered == settled < 100
    state = await _state(api, cid)
    assert state["state"] == "cancelled"
    assert state["counts"]["pending"] == 0
    assert state["counts"]["sent"] + state["counts"]["skipped"] == 320
    assert state["counts"]["sent"] == await Delivery.filter(campaign_id=cid, state="sent").count()
    assert state["counts"]["sent"] >= settled - 1  # sent rows match what WeChat accepted


async def _done(api: TestClient, cid: int) -> dict[str, Any] | None:
    state = await _state(api, cid)
    return (
        state if state["state"] in ("done", "failed") and state["counts"]["pending"] == 0 else None
    )


async def _retrying(cid: int) -> bool:
    return await Delivery.filter(campaign_id=cid, state="pending", error_code=-1).exists()


async def _async(value: Any) -> Any:
    return value


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


async def test_past_send_time_and_unknown_town_are_refused(api: TestClient) -> None:
    """Issue 9 item 9: neither is accepted quietly (sent at once, or to nobody)."""
    await add_residents(fake_ids(1, 3), topics=["relief"], region="东山镇")
    body = {"title": "x", "text": "y", "channel": "template", "audience": {"topics": ["relief"]}}
    past = await api.post(
        "/api/v1/admin/campaigns", headers=EDITOR, json={**body, "send_at": "2020-01-01T09:00"}
    )
    assert past.status == 422
    assert "2020-01-01 09:00 已经过去" in (await past.json())["error"]["message"]
    mars = {"topics": ["relief"], "regions": ["火星镇"]}
    unknown = await api.post(
        "/api/v1/admin/campaigns", headers=EDITOR, json={**body, "audience": mars}
    )
    assert unknown.status == 422
    message = (await unknown.json())["error"]["message"]
    assert "没有这个镇街：火星镇" in message and "东山镇" in message
    count = await api.post("/api/v1/admin/audience/count", headers=EDITOR, json={"audience": mars})
    assert count.status == 422
    # A time that passed while waiting for review is not sent "now" on approval either.
    late = await _create(api, send_at="2999-01-01T09:00")
    await Campaign.filter(id=late["id"]).update(send_at=datetime(2020, 1, 1, tzinfo=UTC))
    refused = await api.post(f"/api/v1/admin/campaigns/{late['id']}/approve", headers=REVIEWER)
    assert refused.status == 409 and "发送时间已过" in (await refused.json())["error"]["message"]
    alias = await _create(api, audience={"regions": ["东山"]})  # an alias is stored by its name
    assert alias["audience_count"] == 3
    assert (await _state(api, alias["id"]))["audience"]["regions"] == ["东山镇"]


async def test_approval_is_bound_to_the_campaign_as_reviewed(api: TestClient, runtime: Any) -> None:
    created = await _create(api, text="审阅时的文字")
    cid = created["id"]
    seen = (await _state(api, cid))["version_hash"]
    # changed after the reviewer read it (any edit path: the console's, a script's)
    await Campaign.filter(id=cid).update(text="审阅后改过的文字")
    path = f"/api/v1/admin/campaigns/{cid}/approve"
    resp = await api.post(path, json={"version_hash": seen}, headers=REVIEWER)
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "version_changed"
    assert (await _state(api, cid))["state"] == "draft"
    fresh = (await _state(api, cid))["version_hash"]
    resp = await api.post(path, json={"version_hash": fresh}, headers=REVIEWER)
    assert resp.status == 200
