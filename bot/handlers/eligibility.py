"""政策体检 in chat: one short question at a time, then the policies the resident
可能符合, why, what each gives and how to apply. ``我的信息`` / ``删除我的信息``.

The check under way lives in the database (``EligibilityCheck``, encrypted), so
any process answers the next message; WeChat's retries of one message are
answered from the callback's de-duplication and never advance it twice.
Without consent nothing is kept once the check ends.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from bot.catalog.kinds import kind
from bot.config import Settings
from bot.deferred import Batched, repeated
from bot.eligibility import profile
from bot.eligibility.attributes import ATTRIBUTES, AnswerError
from bot.eligibility.check import Outcome, read_answer, run
from bot.eligibility.conditions import attributes_in, rule_of
from bot.eligibility.models import EligibilityCheck
from bot.handlers.router import PASS, Pass, Router, command_argument
from bot.handlers.types import TEXT_REPLY_LIMIT, Context, Incoming, Reply, TextReply
from bot.search.reply import link

router = Router("eligibility")

CONSENT = (
    "政策体检会问您几个简单问题（如年龄、户籍、家庭情况），帮您看看可能符合哪些惠民政策。\n"
    "是否同意保存您的回答？保存后，新政策出台或您快到符合条件的时候（如即将年满80周岁）会提醒您；"
    "只保存年龄段、出生年月这类最少的信息，不要身份证号，加密保存，随时可发送“删除我的信息”删除。\n"
    "回复“同意”保存，回复“不同意”也可以体检，但结束后不保存任何回答。"
)
HINT = "\n（回复“跳过”不答此题，“退出”暂停）"
PAUSED = "政策体检已暂停，发送“政策体检”可继续。"
NOTHING = "目前没有设置了适用条件的政策，暂时无法体检。发送您想了解的事情可直接查政策。"
SKIP = re.compile(r"^(跳过|不知道|不清楚|不确定|不想说|下一题|略过)$")
STOP = re.compile(r"^(退出|暂停|停止|结束|取消|算了)$")
YES = re.compile(r"^(同意|好|好的|可以|行|愿意|是|嗯)$")
NO = re.compile(r"^(不同意|不要|不用|不愿意|否|不)$")


def _today(ctx: Context) -> dt.date:
    return ctx.now.astimezone(ctx.settings.server.tz).date()


def _word(text: str) -> str:
    return re.sub(r"[\s,.!?，。！？~～]+", "", text)


async def _session(openid: str, ctx: Context) -> EligibilityCheck | None:
    """The check under way; one left unfinished too long without consent is forgotten."""
    row = await EligibilityCheck.get_or_none(openid=openid)
    if row is None:
        return None
    stale = ctx.now - dt.timedelta(hours=ctx.settings.eligibility.session_hours)
    if row.consent is not True and row.updated_at < stale:
        await row.delete()
        return None
    return row


def _state(row: EligibilityCheck) -> tuple[dict[str, Any], list[str]]:
    data = profile.unseal(row.data)
    return profile.only_known(data.get("answers") or {}), list(data.get("skipped") or [])


async def _store(
    row: EligibilityCheck, answers: dict[str, Any], skipped: list[str], ctx: Context, **update: Any
) -> None:
    row.data = profile.seal({"answers": answers, "skipped": skipped})
    for key, value in update.items():
        setattr(row, key, value)
    await row.save()
    if row.consent is True:
        await profile.save(row.openid, answers, ctx.now)


@router.command("政策体检", "体检")
async def start(message: Incoming, ctx: Context) -> Reply:
    restart = command_argument(message.text) in ("重新开始", "重新", "重来")
    row = await _session(message.openid, ctx)
    if row is not None and restart:
        await row.delete()
        row = None
    if row is None:
        kept = await profile.load(message.openid)
        row = EligibilityCheck(
            openid=message.openid,
            data=profile.seal({"answers": {} if restart else (kept or {}), "skipped": []}),
            consent=True if kept is not None else None,
        )
        await row.save()
        if row.consent is None:
            return TextReply(CONSENT)
        lead = "您之前同意保存回答，这次只问还需要的问题。发送“政策体检 重新开始”可全部重答。\n"
    else:
        row.paused = False
        await row.save()
        if row.consent is None:
            return TextReply(CONSENT)
        lead = "继续上次的政策体检。\n"
    return await _next(row, ctx, lead)


async def _with_check(openids: list[str]) -> dict[str, bool]:
    """The residents, of these, who have a check (under way or paused)."""
    select = repeated(
        "SELECT openid FROM eligibility_check WHERE openid IN (", "{}", len(openids), ")"
    )
    return {row["openid"]: True for row in await select.rows(*openids)}


# Asked of every text a resident sends, almost always of someone with no check at all:
# the messages that ask at the same moment share one statement.
_HAS_CHECK: Batched[str, bool] = Batched(_with_check, shared=True)


async def answer(message: Incoming, ctx: Context) -> Reply | Pass:
    """Any text while a check is asking; everything else goes on to the next routes."""
    if not await _HAS_CHECK.get(message.openid):
        return PASS  # no check, not even a paused one (whose staleness _session would see)
    row = await _session(message.openid, ctx)
    if row is None or row.paused:
        return PASS
    said = _word(message.text)
    if STOP.match(said):
        row.paused = True
        await row.save()
        return TextReply(PAUSED)
    if row.consent is None:
        if NO.match(said):
            row.consent = False
        elif YES.match(said):
            row.consent = True
        else:
            return TextReply(
                "请回复“同意”或“不同意”（不同意也可以体检，只是不保存回答）；回复“退出”暂停。"
            )
        answers, skipped = _state(row)
        await _store(row, answers, skipped, ctx)
        lead = "好的，已记下您同意保存。\n" if row.consent else "好的，本次回答不会保存。\n"
        return await _next(row, ctx, lead)
    answers, skipped = _state(row)
    asking = row.asking
    if asking is None or asking not in ATTRIBUTES:
        return await _next(row, ctx, "")
    if SKIP.match(said):
        skipped.append(asking)
    else:
        try:
            answers[asking] = await read_answer(asking, message.text, _today(ctx))
        except AnswerError as exc:
            return TextReply(f"没听明白：{exc}。\n{ATTRIBUTES[asking].question}{HINT}")
    await _store(row, answers, skipped, ctx)
    return await _next(row, ctx, "")


async def _next(row: EligibilityCheck, ctx: Context, lead: str) -> Reply:
    """Ask the next question worth asking, or end the check with its result."""
    answers, skipped = _state(row)
    outcome = await run(answers, _today(ctx), skipped)
    if outcome.next_question is not None:
        row.asking = outcome.next_question
        await row.save()
        return TextReply(lead + ATTRIBUTES[outcome.next_question].question + HINT)
    if not (outcome.likely or outcome.undecided or outcome.ruled_out):
        await row.delete()
        return TextReply(NOTHING)
    if row.consent is True:
        await profile.save(row.openid, answers, ctx.now)
    await row.delete()  # ends the check; without consent nothing of it is left
    return TextReply(
        lead + result_text(outcome, answers, ctx.settings.server.base_url, ctx.settings)
    )


def result_text(
    outcome: Outcome, answers: dict[str, Any], base_url: str, settings: Settings, lead: str = ""
) -> str:
    """The result in one text reply: full entries while they fit, then titles and a link."""
    policy_kind, interp_kind = kind("policy"), kind("interpretation")
    head = lead + "政策体检结果（仅供参考，是否符合以主管部门审核为准）\n"
    if outcome.likely:
        head += f"您可能符合以下 {len(outcome.likely)} 项政策：\n"
    else:
        head += "根据您的回答，暂未找到您可能符合的政策。\n"
    blocks: list[str] = []
    shown = settings.eligibility.max_results
    for number, item in enumerate(outcome.likely, start=1):
        e = item.eligibility
        lines = [f"{number}. {link(policy_kind.url(base_url, item.policy.id), item.policy.title)}"]
        if number <= shown:
            lines.append("因为：" + "，".join(item.why))
            lines.append("可享：" + e.get("gives", ""))
            if e.get("apply"):
                lines.append("怎么办：" + e["apply"])
            if e.get("where"):
                lines.append("在哪办：" + e["where"])
            if e.get("apply_by"):
                lines.append(f"截止：{e['apply_by']}")
            if item.interpretation is not None:
                url = interp_kind.url(base_url, item.interpretation.id)
                lines.append("看解读：" + link(url, "政策解读"))
        blocks.append("\n".join(lines))
    if outcome.undecided:
        names = []
        for policy in outcome.undecided[:3]:
            missing = [
                a for a in attributes_in(rule_of(policy.eligibility or {})) if a not in answers
            ]
            need = "、".join(dict.fromkeys(ATTRIBUTES[a].label for a in missing))
            names.append(
                f"{link(policy_kind.url(base_url, policy.id), policy.title)}（还需：{need}）"
            )
        more = f"等 {len(outcome.undecided)} 项" if len(outcome.undecided) > 3 else ""
        blocks.append("还需补充信息才能判断：" + "；".join(names) + more)
    tail = "\n发送“政策体检”可再测，“我的信息”查看保存的回答。" + link(
        base_url + "/eligibility", "网页版体检"
    )
    text, budget = head, TEXT_REPLY_LIMIT - len(tail.encode())
    for i, block in enumerate(blocks):
        if len((text + block + "\n").encode()) > budget:
            text += f"……还有 {len(blocks) - i} 条，请打开网页版查看。\n"
            break
        text += block + "\n"
    return text.rstrip("\n") + tail


@router.command("我的信息")
async def my_information(message: Incoming, ctx: Context) -> Reply:
    kept = await profile.load(message.openid)
    if kept is None:
        return TextReply(
            "政策体检没有保存您的任何回答。（体检时回复“同意”才会保存，用于新政策提醒。）"
        )
    lines = profile.describe(kept) or ["（尚未回答任何问题）"]
    return TextReply(
        "政策体检保存了您的以下回答（加密保存，仅用于为您匹配和提醒政策）：\n"
        + "\n".join(lines)
        + "\n发送“删除我的信息”可全部删除；发送“政策体检 重新开始”可重新回答。"
    )


@router.command("删除我的信息")
async def delete_my_information(message: Incoming, ctx: Context) -> Reply:
    had = await profile.forget(message.openid)
    if not had:
        return TextReply("政策体检没有保存您的信息，无需删除。")
    return TextReply(
        "已删除政策体检保存的您的全部回答，今后不会再据此提醒您。需要时可再发送“政策体检”。"
    )


# Last: the commands above (and other routers' commands) are never taken for answers.
router.register(lambda m: m.kind == "text" and bool(m.text.strip()))(answer)
