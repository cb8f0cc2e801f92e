"""Chat commands for subscriptions: 订阅, 订阅 X [Y …], 订阅 全部, 退订 X [Y …], 退订 全部,
我的订阅, 地区 X.

Residents often leave out the space (“订阅救助”), so the commands accept the
topic right after the verb. The menu's “我的订阅” click answers the same way.
"""

from __future__ import annotations

import re

from bot.catalog.models import Topic
from bot.handlers.router import Router
from bot.handlers.types import Context, Incoming, Reply, TextReply
from bot.models import Subscriber
from bot.push import subscriptions as subs
from bot.push.regions import find_region, known_regions, norm_name, region_of_place

router = Router("subscriptions")

_VERB = re.compile(r"^\s*(订阅|退订|取消订阅|地区|我的订阅)\s*[:：]?\s*(.*?)\s*$", re.S)
ALL_WORDS = {"全部", "所有", "全部主题", "all"}


def _parse(message: Incoming) -> tuple[str, str] | None:
    if message.kind != "text":
        return None
    match = _VERB.match(message.text)
    if not match:
        return None
    verb, arg = match.group(1), match.group(2)
    if verb == "我的订阅" and arg:
        return None  # “我的订阅怎么改” is a question, not the command
    return ("退订" if verb == "取消订阅" else verb), arg


async def _topic_list() -> str:
    names = [t.name for t in await Topic.all().order_by("position")]
    return "、".join(names) if names else "（暂无）"


_SEPARATORS = re.compile(r"[\s、，,;；/|]+|和|及|与")


async def _named_topics(arg: str) -> tuple[list[Topic], list[str]]:
    """The topics ``arg`` names (one, or several separated by spaces, 、 or 和) and the
    words that name none. The whole text is tried first: a name may contain a separator."""
    whole = await subs.find_topic(arg)
    if whole is not None:
        return [whole], []
    found: list[Topic] = []
    unknown: list[str] = []
    for word in filter(None, _SEPARATORS.split(arg)):
        topic = await subs.find_topic(word)
        if topic is None:
            unknown.append(word)
        elif topic.id not in {t.id for t in found}:
            found.append(topic)
    return found, unknown


def _quoted(topics: list[Topic]) -> str:
    return "、".join(f"“{t.name}”" for t in topics)


@router.register(lambda m: (p := _parse(m)) is not None and p[0] == "订阅")
async def subscribe(message: Incoming, ctx: Context) -> Reply:
    _, arg = _parse(message) or ("", "")
    if not arg:
        return TextReply(
            f"可订阅的主题：{await _topic_list()}。\n"
            "发送“订阅 主题名”订阅，如“订阅 救助”，可一次订阅多个，如“订阅 救助 医保 养老”，"
            "或发送“订阅 全部”；发送“退订 主题名”或“退订 全部”取消；"
            "发送“地区 镇街名”设置所在地，如“地区 城关镇”。"
        )
    wanted: list[Topic]
    unknown: list[str] = []
    if norm_name(arg) in ALL_WORDS:
        wanted = list(await Topic.all().order_by("position"))
    else:
        wanted, unknown = await _named_topics(arg)
    if not wanted:
        names = "、".join(f"“{w}”" for w in unknown) or f"“{arg}”"
        return TextReply(f"没有找到主题{names}。可订阅的主题：{await _topic_list()}。")
    added = await subs.subscribe_many(message.openid, wanted, ctx.now)
    had = [t for t in wanted if t.id not in {a.id for a in added}]
    lines = []
    if added:
        lines.append(f"已订阅{_quoted(added)}。有相关新政策和解读时会推送给您。")
    if had and not added and len(had) == 1:
        lines.append(f"您已订阅“{had[0].name}”，无需重复订阅。发送“我的订阅”查看全部。")
    elif had:
        lines.append(f"{_quoted(had)}您已订阅过，无需重复订阅。")
    if unknown:
        lines.append(f"没有找到主题{'、'.join(f'“{w}”' for w in unknown)}。")
    if added:
        example = added[0].name if len(added) == 1 else "全部"
        lines.append(f"发送“退订 {example}”可取消。")
    return TextReply("\n".join(lines))


@router.register(lambda m: (p := _parse(m)) is not None and p[0] == "退订")
async def unsubscribe(message: Incoming, ctx: Context) -> Reply:
    _, arg = _parse(message) or ("", "")
    if not arg:
        return TextReply("请发送“退订 主题名”，或发送“退订 全部”取消全部订阅。")
    if norm_name(arg) in ALL_WORDS:
        count = await subs.unsubscribe_all(message.openid)
        if not count:
            return TextReply("您目前没有订阅任何主题。")
        return TextReply(f"已退订全部 {count} 个主题，今后不再向您推送订阅消息。")
    wanted, unknown = await _named_topics(arg)
    removed = [t for t in wanted if await subs.unsubscribe(message.openid, t)]
    missing = [t for t in wanted if t not in removed]
    lines = []
    if removed:
        lines.append(f"已退订{_quoted(removed)}。")
    if missing:
        lines.append(f"您没有订阅{_quoted(missing)}。")
    if unknown:
        lines.append(f"没有找到主题{'、'.join(f'“{w}”' for w in unknown)}。")
    if not removed:
        lines.append("发送“我的订阅”查看您已订阅的主题。")
    return TextReply("\n".join(lines))


@router.register(lambda m: (p := _parse(m)) is not None and p[0] == "我的订阅")
async def my_subscriptions(message: Incoming, ctx: Context) -> Reply:
    return await _summary(message.openid)


@router.click("MY_SUBSCRIPTIONS")
async def my_subscriptions_click(message: Incoming, ctx: Context) -> Reply:
    return await _summary(message.openid)


async def _summary(openid: str) -> Reply:
    topics = await subs.topics_of(openid)
    subscriber = await Subscriber.get_or_none(openid=openid)
    region = (
        subscriber.region if subscriber and subscriber.region else "未设置（发送“地区 镇街名”设置）"
    )
    if not topics:
        return TextReply(
            f"您还没有订阅任何主题。\n所在地区：{region}\n"
            f"可订阅的主题：{await _topic_list()}。发送“订阅 主题名”订阅。"
        )
    names = "、".join(t.name for t in topics)
    return TextReply(f"您已订阅：{names}。\n所在地区：{region}\n发送“退订 主题名”可取消。")


@router.register(lambda m: (p := _parse(m)) is not None and p[0] == "地区")
async def set_region(message: Incoming, ctx: Context) -> Reply:
    _, arg = _parse(message) or ("", "")
    regions = await known_regions()
    known = "、".join(r.name for r in regions)
    if not arg:
        hint = f"可选：{known}。" if known else ""
        return TextReply(f"请发送“地区 镇街名”设置您所在的镇（乡、街道），如“地区 城关镇”。{hint}")
    region = find_region(arg, regions)
    if region is None:
        return TextReply(f"没有找到“{arg}”。可选的镇（乡、街道）：{known}。")
    await subs.set_region(message.openid, region, ctx.now)
    return TextReply(f"已将您的所在地区设为“{region}”，今后可收到本地的政策通知。")


@router.register(lambda m: m.kind == "location" and "Location_X" in m.raw)
async def shared_location(message: Incoming, ctx: Context) -> Reply:
    """A location the resident shared sets their town when it falls in one we know."""
    regions = await known_regions()
    region = region_of_place(message.text, message.point, regions)
    if region is None:
        known = "、".join(r.name for r in regions)
        hint = f"可选：{known}。" if known else ""
        return TextReply(
            "已收到您的位置，但它不在本县的镇（乡、街道）范围内，所在地区未改变。\n"
            f"也可以发送“地区 镇街名”设置，如“地区 城关镇”。{hint}"
        )
    await subs.set_region(message.openid, region, ctx.now)
    return TextReply(
        f"已根据您发送的位置，将您的所在地区设为“{region}”，今后可收到本地的政策通知。\n"
        "不对？发送“地区 镇街名”即可更改。"
    )
