"""WeChat's own reports feed reach: TEMPLATESENDJOBFINISH marks a template message
delivered (or why not), MASSSENDJOBFINISH records WeChat's counts on the run;
neither opens the resident's 48-hour window or gets a reply."""

from __future__ import annotations

import time

from bot.handlers import handle
from bot.models import Subscriber
from bot.push import campaigns
from bot.push.campaigns import Actor
from bot.push.models import Campaign, CampaignRun, CampaignState, Delivery
from bot.push.runtime import push_runtime, wake
from bot.services import Services
from bot.wechat.fake import FakeWeChat
from bot.wechat.messages import checked_root, parse
from tests.push.conftest import add_residents, eventually, fake_ids


def _event(openid: str, event: str, fields: str) -> str:
    return (f"<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[{openid}]]>"
            f"</FromUserName><CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]>"
            f"</MsgType><Event><![CDATA[{event}]]></Event>{fields}</xml>")  # fmt: skip


async def test_template_and_mass_job_reports_feed_the_campaign_reach(
    services: Services, fake_wechat: FakeWeChat
) -> None:
    await add_residents(fake_ids(1, 3), topics=["relief"])
    campaign = await campaigns.create(
        {"title": "通知", "text": "内容", "channel": "template", "audience": {"topics": ["relief"]}},
        Actor("小王", "editor"), services.settings,
    )  # fmt: skip
    await campaigns.approve(campaign.id, Actor("老张", "reviewer"))
    async with push_runtime(services):
        await wake(services)

        async def done() -> bool:
            return (await Campaign.get(id=campaign.id)).state == CampaignState.done

        await eventually(done)
    rows = await Delivery.filter(campaign_id=campaign.id).order_by("openid")
    assert all(r.wechat_msgid for r in rows)  # WeChat's msgid kept for its report
    ok = _event("o-fake-000001", "TEMPLATESENDJOBFINISH",
                f"<MsgID>{rows[0].wechat_msgid}</MsgID><Status><![CDATA[success]]></Status>")  # fmt: skip
    blocked = _event("o-fake-000002", "TEMPLATESENDJOBFINISH",
                     f"<MsgID>{rows[1].wechat_msgid}</MsgID>"
                     "<Status><![CDATA[failed:user block]]></Status>")  # fmt: skip
    for xml in (ok, blocked):
        route, reply = await handle(services, parse(checked_root(xml.encode())))
        assert route.startswith("reach.") and reply is None
    summary = await campaigns.summary(await Campaign.get(id=campaign.id))
    assert summary["by_channel"]["template"]["delivered"] == 1
    assert (await Delivery.get(id=rows[1].id)).reason == "undelivered:failed:user block"
    # A report is not the resident writing: the customer-service window stays closed.
    assert (await Subscriber.get(openid="o-fake-000001")).last_active_at is None

    run = await CampaignRun.get(campaign_id=campaign.id)
    await Delivery.filter(id=rows[2].id).update(channel="mass", wechat_msgid="1000001")
    mass = _event("o-fake-000003", "MASSSENDJOBFINISH",
                  "<MsgID>1000001</MsgID><Status><![CDATA[send success]]></Status>"
                  "<TotalCount>3</TotalCount><FilterCount>3</FilterCount>"
                  "<SentCount>2</SentCount><ErrorCount>1</ErrorCount>")  # fmt: skip
    await handle(services, parse(checked_root(mass.encode())))
    note = (await CampaignRun.get(id=run.id)).note or ""
    assert "sent 2 of 3 (filtered 3, errors 1)" in note
