"""政策体检 in chat as a resident lives it, on both databases: consent, one question
at a time, everyday answers, stop and resume, results, 我的信息 / 删除我的信息."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.catalog.models import Policy
from bot.config import Settings
from bot.eligibility import profile
from bot.eligibility.attributes import ATTRIBUTES
from bot.eligibility.models import EligibilityCheck, ResidentProfile
from bot.services import Services, open_services
from tests.handlers.chat import say
from tests.wechat.wx import WeChatServer, text_xml

ELDER = {  # an 82-year-old farmer in 东山镇 with a small income, everyday words
    "age": "八十二岁",
    "hukou": "农村户口",
    "town": "东山",
    "household_size": "两口人",
    "income_per_capita_month": "一千五",
    "status": "没有",
    "disability": "没有",
    "unemployed": "没有",
    "farming_land_mu": "三亩",
    "child_stage": "没有",
    "newborn": "没有",
    "pregnant": "没有",
    "veteran": "不是",
    "lives_alone": "是",
    "house": "没有",
}


def asked(reply: str) -> str | None:
    return next((n for n, a in ATTRIBUTES.items() if a.question in reply), None)


async def converse(
    services: Services, answers: dict[str, str], openid: str
) -> tuple[str, list[str]]:
    """Answer every question asked; returns the final reply and the attributes asked."""
    reply = await say(services, "同意" if answers is ELDER else "不同意", openid)
    seen: list[str] = []
    while (attribute := asked(reply)) is not None:
        assert attribute not in seen, f"asked twice: {attribute}"
        seen.append(attribute)
        reply = await say(services, answers[attribute], openid)
    return reply, seen


async def test_a_resident_who_agrees_is_asked_only_what_matters_and_told_what_they_may_get(
    synced: Services,
) -> None:
    first = await say(synced, "政策体检", "o-elder")
    assert "同意" in first and "身份证号" in first and asked(first) is None
    result, seen = await converse(synced, ELDER, "o-elder")
    assert len(seen) < len(ATTRIBUTES)  # never the whole questionnaire
    assert "pregnant" not in seen and "newborn" not in seen  # no policy in force asks
    assert "政策体检结果" in result and "可能符合" in result
    assert "青山县高龄津贴和困难老年人养老服务补贴发放办法" in result
    assert "因为：您年满80周岁，户籍在本县" in result
    assert "可享：高龄津贴每人每月50元" in result
    assert 'href="http://policy.test/policies/qmf-2024-20-elderly-allowance"' in result
    assert "看解读：" in result and "耕地地力保护补贴" in result
    assert "公共租赁住房" not in result.split("还需补充")[0]  # 农村 rules it out
    assert len(result.encode()) < 2048

    row = await ResidentProfile.get(openid="o-elder")
    assert "农村" not in row.data and "1944" not in row.data  # encrypted at rest
    mine = await say(synced, "我的信息", "o-elder")
    assert "户籍：农村" in mine and "1944年12月出生" in mine and "1500元" in mine
    # A second check asks nothing already known and answers at once.
    again = await say(synced, "政策体检", "o-elder")
    assert "只问还需要的问题" in again and "可能符合" in again

    gone = await say(synced, "删除我的信息", "o-elder")
    assert "已删除" in gone
    assert not await ResidentProfile.exists(openid="o-elder")
    assert "没有保存" in await say(synced, "我的信息", "o-elder")


async def test_without_consent_the_check_runs_and_nothing_is_kept(synced: Services) -> None:
    await say(synced, "政策体检", "o-guest")
    result, _ = await converse(synced, {**ELDER}, "o-guest")
    assert "可能符合" in result
    assert not await ResidentProfile.exists(openid="o-guest")
    assert not await EligibilityCheck.exists(openid="o-guest")
    assert "没有保存" in await say(synced, "我的信息", "o-guest")


async def test_a_check_can_be_stopped_and_resumed_in_another_process(
    settings: Settings, synced: Services
) -> None:
    await say(synced, "政策体检", "o-pause")
    question = await say(synced, "同意", "o-pause")
    attribute = asked(question)
    assert attribute is not None
    second = await say(synced, ELDER[attribute], "o-pause")
    pending = asked(second)
    assert pending is not None and pending != attribute
    wrong = await say(synced, "随便说点什么", "o-pause")
    assert "没听明白" in wrong and ATTRIBUTES[pending].question in wrong  # nothing lost
    assert "已暂停" in await say(synced, "退出", "o-pause")
    # While paused, messages are ordinary searches again.
    assert "政策体检" not in await say(synced, "低保怎么申请", "o-pause")
    row = await EligibilityCheck.get(openid="o-pause")
    assert "农村" not in row.data
    async with open_services(settings) as other:  # another process picks it up
        resumed = await say(other, "政策体检", "o-pause")
        assert "继续上次" in resumed and ATTRIBUTES[pending].question in resumed


async def test_an_expired_policy_is_not_offered(synced: Services) -> None:
    yesterday = dt.date.today() - dt.timedelta(days=2)
    await Policy.filter(id="qmf-2024-20-elderly-allowance").update(expires_on=yesterday)
    await say(synced, "政策体检", "o-late")
    result, seen = await converse(synced, ELDER, "o-late")
    assert "可能符合" in result and "高龄津贴" not in result
    assert "age" not in seen or any(  # asked only if another policy in force needs the age
        "age" in str(p.eligibility or {})
        for p in await Policy.exclude(id="qmf-2024-20-elderly-allowance")
    )


async def test_an_unknown_answer_can_be_skipped_and_the_policy_waits_for_it(
    synced: Services,
) -> None:
    await say(synced, "政策体检", "o-skip")
    answers: dict[str, Any] = {**ELDER, "age": "跳过"}
    result, seen = await converse(synced, answers, "o-skip")
    assert "age" in seen
    assert "还需补充信息才能判断" in result and "高龄津贴" in result.split("还需补充")[1]
    assert "年龄" in result.split("还需补充")[1]


async def test_a_retried_answer_through_the_callback_advances_the_check_once(
    client: TestClient,
) -> None:
    wechat = WeChatServer(client)
    await wechat.send(text_xml("政策体检", openid="o-retry", msg_id="7100000000000000001"))
    question = await wechat.send(text_xml("同意", openid="o-retry", msg_id="7100000000000000002"))
    attribute = asked(question.text)
    assert attribute is not None
    xml = text_xml(ELDER[attribute], openid="o-retry", msg_id="7100000000000000003")
    first = await wechat.send(xml)
    second = await wechat.send(xml)  # WeChat retries after 5 s without an answer
    assert first.text == second.text and asked(first.text) not in (None, attribute)
    row = await EligibilityCheck.get(openid="o-retry")
    assert list(profile.unseal(row.data)["answers"]) == [attribute]


async def test_answers_never_reach_the_logs(
    synced: Services, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await say(synced, "政策体检", "o-logs")
    await converse(synced, ELDER, "o-logs")
    await say(synced, "我的信息", "o-logs")
    standard = set(vars(logging.makeLogRecord({})))  # timings could spell a year by chance
    logged = "\n".join(
        f"{r.getMessage()} { ({k: v for k, v in vars(r).items() if k not in standard}) }"
        for r in caplog.records
    )
    for answer in ("八十二岁", "农村户口", "1944", "一千五", "三亩"):
        assert answer not in logged
