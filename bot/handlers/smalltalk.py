"""Small talk before search: greetings, thanks, "how do I use this", asking for a
person and the 12345 hotline get a fitting answer instead of a policy search.

Residents type these in countless ways (“你好！”, “在吗？？”, “我要转人工客服”,
“谢谢啦”), so the text is first reduced to its core: punctuation, emoji,
spaces, modal particles and polite fillers go; what is left must be one of a
few phrases per intent. A real question that merely starts with a greeting
(“你好，低保怎么申请”) keeps words outside the vocabulary and goes on to search.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from datetime import datetime

from bot.catalog.deadlines import stored_calendar
from bot.handlers.router import Router
from bot.handlers.types import Context, Incoming, Reply, TextReply
from bot.search.text import normalize

router = Router("smalltalk")

# Filler a resident wraps an intent in; removed longest first.
_FILLERS = sorted(
    [
        "请问", "请", "麻烦", "帮我", "给我", "我要", "我想", "想要", "我需要", "需要",
        "能不能", "可以", "一下", "小编", "政策在线",
        "有没有", "怎么", "找",
    ],
    key=len,
    reverse=True,
)  # fmt: skip
_PARTICLES = "啊阿呀吗嘛呢吧哦喔噢哈啦了呐哇嗯么的"

GREETING = {
    "你好", "您好", "你们好", "您们好", "大家好", "你在", "您在", "hi", "hello", "hey", "哈喽", "嗨", "早", "早上好", "上午好", "中午好",
    "下午好", "晚上好", "在", "在不在", "有人", "有人在", "人在", "在线", "喂",
}  # fmt: skip
THANKS = {
    "谢谢", "谢", "谢了", "多谢", "感谢", "非常感谢", "太感谢", "辛苦", "辛苦了",
    "thanks", "thankyou", "谢谢你", "谢谢您", "谢你", "谢您", "好", "好滴", "知道", "明白", "收到", "ok", "okay",
}  # fmt: skip
HOWTO = {
    "用", "使用", "如何使用", "如何用", "是谁", "是什么", "能做什么", "能干什么",
    "会什么", "有什么功能", "什么功能", "功能", "使用说明", "用法", "教程", "操作",
}  # fmt: skip
PERSON = {
    "人工", "转人工", "人工客服", "转人工客服", "人工服务", "客服", "转客服",
    "真人", "工作人员", "人工咨询", "联系工作人员", "联系客服", "人工台",
}  # fmt: skip
HOTLINE = {
    "12345", "打12345", "12345热线", "12345电话", "12345电话多少", "12345是什么", "热线", "热线电话", "便民热线", "政务热线",
    "服务热线", "电话", "联系电话", "咨询电话", "客服电话", "电话多少", "电话号码",
}  # fmt: skip


def core(text: str) -> str:
    """The words that carry the intent: no punctuation, emoji, spaces, particles or fillers."""
    # Keep letters and digits only (CJK ideographs are letters to Unicode).
    text = "".join(ch for ch in normalize(text) if unicodedata.category(ch)[0] in "LN")
    for filler in _FILLERS:
        text = text.replace(filler, "")
    return _squeeze(text)


def _squeeze(text: str) -> str:
    """Repeats said once and particles at the ends dropped: 谢谢谢谢啦 → 谢, 在吗在吗 → 在."""
    return re.sub(r"(.+?)\1+", r"\1", text).strip(_PARTICLES)


@functools.lru_cache(maxsize=4096)  # asked of every text; residents repeat themselves
def intent(text: str) -> str | None:
    """``greeting``, ``thanks``, ``howto``, ``person`` or ``hotline``; None for anything else."""
    words = core(text)
    if not words or len(words) > 12:
        return None
    return _VOCABULARY.get(words)


def _you(phrase: str) -> list[str]:
    """“你是谁”, “你们电话多少”: an address before the phrase changes nothing."""
    return [f"{you}{phrase}" for you in ("你", "您", "你们", "您们")]


_VOCABULARY = {
    _squeeze(phrase): name
    for name, phrases in (
        ("greeting", GREETING),
        ("thanks", THANKS),
        ("howto", HOWTO),
        ("hotline", HOTLINE),
        ("person", PERSON),
    )
    for phrase in phrases
    for phrase in ([phrase] if name in ("greeting", "thanks") else [phrase, *_you(phrase)])
}


async def _office_now(ctx: Context) -> str:
    """Staff hours, and whether staff are at their desks right now."""
    chat = ctx.settings.chat
    windows = chat.windows
    if not windows:
        return ""
    local = ctx.now.astimezone(ctx.settings.server.tz)
    workday, _ = (await stored_calendar()).is_workday(local.date())
    open_now = workday and any(start <= local.time() < end for start, end in windows)
    hours = "、".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in windows)
    state = "现在是工作时间" if open_now else "现在不是工作时间，留言会在下个工作日处理"
    return f"\n工作时间：工作日 {hours}（{state}）。"


async def _person(ctx: Context) -> str:
    phone = ctx.settings.chat.office_phone
    lines = [
        "本号暂不提供在线人工客服，您可以这样联系工作人员：",
        "1. 发送“留言 您的问题”，工作人员会在工作日内答复，答复会发到这里；",
    ]
    if phone:
        lines.append(f"2. 工作时间拨打咨询电话 {phone}；")
    lines.append(f"{len(lines)}. 急事请拨打 12345 政务服务便民热线（全天 24 小时）。")
    return "\n".join(lines) + await _office_now(ctx)


def _hotline(ctx: Context) -> str:
    return (
        "12345 是政务服务便民热线，全天 24 小时接听，可咨询政策、办事，"
        "也可反映问题、投诉建议。\n"
        "在这里您也可以直接发送想问的事查政策，或发送“留言 您的问题”请工作人员答复。"
    )


def _greeting(ctx: Context, now: datetime) -> str:
    hour = now.astimezone(ctx.settings.server.tz).hour
    hello = "早上好" if 5 <= hour < 11 else "下午好" if 13 <= hour < 18 else "您好"
    return (
        f"{hello}！我是“政策在线”，随时为您服务。请直接发送想问的事，"
        "如“低保怎么申请”“危房改造补助”。\n发送“帮助”查看全部用法。"
    )


@router.register(lambda m: m.kind == "text" and intent(m.text) is not None)
async def small_talk(message: Incoming, ctx: Context) -> Reply:
    from bot.handlers.basics import HELP

    kind = intent(message.text)
    if kind == "person":
        return TextReply(await _person(ctx))
    if kind == "hotline":
        return TextReply(_hotline(ctx))
    if kind == "howto":
        return TextReply(HELP)
    if kind == "thanks":
        return TextReply("不客气！还有其他问题，随时发送给我。")
    return TextReply(_greeting(ctx, ctx.now))
