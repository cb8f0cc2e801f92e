"""SMS campaigns through the Tencent Cloud stand-in: consent decides who is sent to,
each number's status is its row's outcome, a bad number stops SMS for that
resident, rate-limit answers slow the sender, the daily limit holds the rest
for tomorrow, and an SMS outage never stops a WeChat campaign beside it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.fernet import Fernet

from bot.catalog.models import Topic
from bot.contacts import record
from bot.contacts.models import Contact
from bot.keys import SERVICES, SETTINGS
from bot.push import campaigns
from bot.push.campaigns import Actor
from bot.push.models import Campaign, CampaignState, Delivery, DeliveryState
from bot.push.runtime import PushRuntime, push_runtime, wake
from bot.services import Services, open_services
from bot.sms.fake import FakeSms
from bot.web import routes
from bot.web.errors import json_errors
from bot.wechat.fake import FakeWeChat
from tests.push.conftest import add_residents, eventually, fake_ids, push_settings

EDITOR, REVIEWER = Actor("小王", "editor"), Actor("老张", "reviewer")
KEY = Fernet.generate_key().decode()


def sms_section(fake: FakeSms, **changes: Any) -> dict[str, Any]:
    cfg = fake.config
    return {"secret_id": cfg.secret_id, "secret_key": cfg.secret_key,
            "sdk_app_id": cfg.sdk_app_id, "sign_name": cfg.sign_names[0], "template_id": "100001",
            "verify_template_id": "100002", "endpoint": fake.url, **changes}  # fmt: skip


@pytest.fixture
async def sms_services(
    db_url: str, fake_wechat: FakeWeChat, fake_sms: FakeSms, request: pytest.FixtureRequest
) -> AsyncIterator[Services]:
    sections = {"sms": sms_section(fake_sms, **getattr(request, "param", {})),
                "privacy": {"key": KEY}}  # fmt: skip
    async with open_services(push_settings(db_url, fake_wechat.url, sections)) as svc:
        await Topic.create(id="relief", name="救助")
        yield svc


async def _campaign(services: Services, channel: str, title: str = "低保标准提高") -> int:
    campaign = await campaigns.create(
        {"title": title, "text": "城乡低保标准每人每月提高60元。", "channel": channel,
         "policy_id": None, "audience": {"topics": ["relief"]}},
        EDITOR, services.settings,
    )  # fmt: skip
    await campaigns.approve(campaign.id, REVIEWER)
    return campaign.id


async def _finished(campaign_id: int) -> Campaign:
    async def check() -> Campaign | None:
        c = await Campaign.get(id=campaign_id)
        return c if c.state in (CampaignState.done, CampaignState.failed) else None

    result: Campaign = await eventually(check, timeout=40)
    return result


async def _residents_with_phones(n: int, start: int = 1) -> list[str]:
    openids = fake_ids(start, start + n - 1)
    await add_residents(openids, topics=["relief"])
    for i, openid in enumerate(openids):
        await record(openid, phone=f"139{start + i:08d}", source="staff")
    return openids


async def test_an_sms_campaign_reaches_consenting_phones_once_and_stops_bad_numbers(
    sms_services: Services, fake_sms: FakeSms
) -> None:
    openids = await _residents_with_phones(3)
    await add_residents(["o-fake-000009"], topics=["relief"])  # no phone given
    await add_residents(["o-fake-000010"], topics=["relief"])
    await record("o-fake-000010", phone="17000000000", source="staff")
    fake_sms.configure(unallocated=("+8617000000000",))
    campaign_id = await _campaign(sms_services, "sms")
    async with push_runtime(sms_services):
        await wake(sms_services)
        report = await campaigns.report(await _finished(campaign_id))
    assert report["counts"] == {"pending": 0, "sent": 3, "failed": 1, "skipped": 1}
    assert report["skipped_reasons"] == {"没有同意接收短信的手机号": 1}
    for i, _ in enumerate(openids):
        (message,) = fake_sms.messages(f"139{i + 1:08d}")
        assert message["text"].startswith("【青山县政务】低保标准提高")
        assert message["text"].endswith("拒收请回复R")
    failed = await Delivery.get(campaign_id=campaign_id, openid="o-fake-000010")
    assert failed.reason == "InvalidParameterValue.IncorrectPhoneNumber"
    bad = await Contact.get(openid="o-fake-000010")
    assert bad.sms_stop_reason == "InvalidParameterValue.IncorrectPhoneNumber"
    sent = await Delivery.filter(campaign_id=campaign_id, state=DeliveryState.sent)
    assert all(d.wechat_msgid and d.wechat_msgid.startswith("2433:") for d in sent)
    assert fake_sms.duplicates == 0
    # Stored encrypted: the number appears nowhere in the row.
    row = await Contact.get(openid=openids[0])
    assert row.phone and "13900000001" not in row.phone and row.phone_lookup


@pytest.mark.parametrize("sms_services", [{"rate_per_second": 200}], indirect=True)
async def test_rate_limit_answers_slow_the_sms_sender_down(
    sms_services: Services, fake_sms: FakeSms
) -> None:
    await _residents_with_phones(40)
    fake_sms.configure(rate_limit=10)  # Tencent answers RequestLimitExceeded above 10 a second
    campaign_id = await _campaign(sms_services, "sms")
    async with push_runtime(sms_services) as runtime:
        await wake(sms_services)
        report = await campaigns.report(await _finished(campaign_id))
        bucket = runtime.engine.lanes["tencentcloud-sms"].bucket
        assert bucket.rate < bucket.ceiling  # slowed down, not hammering
    assert report["counts"]["sent"] == 40 and report["counts"]["failed"] == 0
    assert fake_sms.errors["RequestLimitExceeded"] > 0
    assert fake_sms.total_accepted == 40 and fake_sms.duplicates == 0


@pytest.mark.parametrize("sms_services", [{"daily_limit": 30}], indirect=True)
async def test_the_daily_limit_holds_the_rest_for_tomorrow(
    sms_services: Services, fake_sms: FakeSms
) -> None:
    await _residents_with_phones(40)
    # Two SMS campaigns at once, 80 messages against a limit of 30: claimed together, they
    # must not each think the whole day's room is theirs.
    first = await _campaign(sms_services, "sms", "第一条")
    second = await _campaign(sms_services, "sms", "第二条")
    async with push_runtime(sms_services):
        await wake(sms_services)

        async def thirty_sent() -> bool:
            return await Delivery.filter(state="sent").count() >= 30

        await eventually(thirty_sent)

        async def all_held_for_tomorrow() -> bool:
            tomorrow = datetime.now(UTC) + timedelta(hours=1)
            held = Delivery.filter(state="pending", error_message="已达短信每日上限，明日续发")
            return await held.filter(next_attempt_at__gt=tomorrow).count() == 50

        await eventually(all_held_for_tomorrow)
    assert fake_sms.total_accepted == 30 and await Delivery.filter(state="sent").count() == 30
    for campaign_id in (first, second):
        assert (await Campaign.get(id=campaign_id)).state == CampaignState.sending
    held = await Delivery.filter(state="pending").first()
    assert held is not None and held.attempts == 0


async def test_an_sms_outage_never_stops_the_wechat_campaign_beside_it(
    sms_services: Services, fake_sms: FakeSms, fake_wechat: FakeWeChat
) -> None:
    await _residents_with_phones(5)
    fake_sms.configure(outage=True)
    sms_id = await _campaign(sms_services, "sms", "短信：补贴发放")
    wechat_id = await _campaign(sms_services, "template", "微信：补贴发放")
    runtime: PushRuntime
    async with push_runtime(sms_services) as runtime:
        await wake(sms_services)
        wechat = await campaigns.report(await _finished(wechat_id))
        assert wechat["counts"]["sent"] == 5
        assert all(len(fake_wechat.messages(o)) == 1 for o in fake_ids(1, 5))
        retrying = await eventually(
            lambda: Delivery.filter(campaign_id=sms_id, reason="InternalError.Timeout").count()
        )
        assert retrying and (await Campaign.get(id=sms_id)).state == CampaignState.sending
        fake_sms.configure(outage=False)  # the provider is back: the retries go through
        sms = await campaigns.report(await _finished(sms_id))
    assert sms["counts"] == {"pending": 0, "sent": 5, "failed": 0, "skipped": 0}
    assert fake_sms.total_accepted == 5 and runtime is not None


@pytest.fixture
async def callbacks(sms_services: Services) -> AsyncIterator[TestClient]:
    """The SMS callback routes on loopback, as Tencent's console would be given them."""
    app = web.Application()
    app[SETTINGS] = sms_services.settings
    routes.channels(app)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


@pytest.mark.parametrize("sms_services", [{"callback_token": "cb-secret"}], indirect=True)
async def test_status_reports_mark_delivered_and_a_td_reply_stops_sms_at_once(
    sms_services: Services, fake_sms: FakeSms, callbacks: TestClient
) -> None:
    await _residents_with_phones(3)
    first = await _campaign(sms_services, "sms")
    async with push_runtime(sms_services):
        await wake(sms_services)
        await _finished(first)
        base = str(callbacks.make_url("/callbacks/sms/cb-secret"))
        # Tencent posts the reports: two reached the phone, one did not.
        assert await fake_sms.post_reports(base + "/status", failed=frozenset({"13900000003"})) == 3
        delivered = await Delivery.filter(campaign_id=first).exclude(delivered_at=None).count()
        assert delivered == 2
        undelivered = await Delivery.get(campaign_id=first, openid="o-fake-000003")
        assert undelivered.delivered_at is None and undelivered.reason == "undelivered:MK:0001"

        # The first resident replies TD: the next campaign skips them, no SMS reaches the phone.
        await fake_sms.reply(base + "/reply", "13900000001", "TD")
        stopped = await Contact.get(openid="o-fake-000001")
        assert stopped.sms_stopped_at is not None and stopped.sms_stop_reason == "replied TD"
        fake_sms.configure(interval=0)  # the next notice comes within 30 s; not the point here
        second = await _campaign(sms_services, "sms", "第二条通知")
        await wake(sms_services)
        report = await campaigns.report(await _finished(second))
    assert report["skipped_reasons"] == {"没有同意接收短信的手机号": 1}
    assert len(fake_sms.messages("13900000001")) == 1


@pytest.mark.parametrize("sms_services", [{"callback_token": "cb-secret"}], indirect=True)
async def test_callbacks_need_the_token(callbacks: TestClient) -> None:
    resp = await callbacks.post("/callbacks/sms/wrong/reply", json={"mobile": "13900000001"})
    assert resp.status == 404
    resp = await callbacks.post("/callbacks/sms/cb-secret/status", data=b"{not json")
    assert resp.status == 400


async def test_a_tracked_link_counts_the_first_visit_only_and_lands_on_the_policy(
    sms_services: Services, fake_sms: FakeSms
) -> None:
    await _residents_with_phones(2)
    campaign_id = await _campaign(sms_services, "sms")
    await Campaign.filter(id=campaign_id).update(policy_id="dibao-2027")  # the notice's policy
    async with push_runtime(sms_services):
        await wake(sms_services)
        await _finished(campaign_id)
    text = fake_sms.messages("13900000001")[0]["text"]
    link = re.search(r"http://policy\.test/r/\S+", text).group()  # type: ignore[union-attr]
    assert link not in fake_sms.messages("13900000002")[0]["text"]  # one link per resident
    app = web.Application()
    app[SETTINGS] = sms_services.settings
    routes.channels(app)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        for _ in range(3):  # the resident opens it three times
            resp = await client.get(link.removeprefix("http://policy.test"), allow_redirects=False)
            assert resp.status == 302
            assert resp.headers["Location"] == "http://policy.test/policies/dibao-2027"
        forged = await client.get("/r/MTIz.forged", allow_redirects=False)
        assert forged.headers["Location"] == "http://policy.test/policies"
    summary = await campaigns.summary(await Campaign.get(id=campaign_id))
    assert summary["by_channel"]["sms"]["opened"] == 1 and summary["by_channel"]["sms"]["sent"] == 2
    opened = await Delivery.get(campaign_id=campaign_id, openid="o-fake-000001")
    assert opened.opened and opened.delivered_at is None  # a flag, nothing more about the visit


@pytest.mark.parametrize("sms_services", [{"daily_limit": 3}], indirect=True)
async def test_cost_and_limits_are_visible_before_sending(sms_services: Services) -> None:
    await _residents_with_phones(5)
    await add_residents(["o-fake-000009"], topics=["relief"])  # no phone
    app = web.Application(middlewares=[json_errors])
    app[SETTINGS] = sms_services.settings
    app[SERVICES] = sms_services
    routes.pushes(app)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        resp = await client.post(
            "/api/v1/admin/audience/count",
            json={"audience": {"topics": ["relief"]}, "channel": "template", "fallback": ["sms"]},
            headers={"Authorization": "Bearer editor-token-7f3a9c2e5b8d1f4a"},
        )
        data = await resp.json()
    assert data["audience_count"] == 6
    assert data["sms"]["residents_with_phone"] == 5 and data["sms"]["daily_limit"] == 3
    assert data["sms"]["can_send_today"] == 3 and data["sms"]["held_for_later_days"] == 2
    assert data["sms"]["per_number_daily_limit"] == 10
