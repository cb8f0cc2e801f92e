"""Welcome, help, and sensible answers to everything that is not a query:
follow/unfollow, link opens, media messages and 订阅通知 events."""

from __future__ import annotations

from bot.handlers.router import Router
from bot.handlers.types import Context, Incoming, Reply, TextReply
from bot.push.subscriptions import on_follow, on_unfollow

router = Router("basics")

HELP = (
    "您好！这里是“政策在线”，可以帮您：\n"
    "1. 查政策：直接发送想问的事，如“低保怎么申请”“危房改造补助”“征地补偿标准”，"
    "也可以发送文号，如“青政办〔2024〕12号”，结果较多时发送“更多”看其余；\n"
    "2. 订阅推送：发送“订阅”查看可订阅的主题，发送“订阅 救助”即可订阅（可一次订阅多个，"
    "如“订阅 救助 医保”，或“订阅 全部”），"
    "发送“退订 救助”或“退订 全部”取消；\n"
    "3. 查看订阅：发送“我的订阅”；\n"
    "4. 设置所在镇街：发送“地区 城关镇”，可收到本地通知；\n"
    "5. 留言：发送“留言 您的问题”，工作人员会尽快答复；发送“人工”了解联系工作人员的方式；\n"
    "6. 也可以发送语音，或发送位置自动设置所在镇街；\n"
    "7. 参与决策：发送“征求意见”查看正在征求意见的文件，发送“意见 序号 您的意见”参与；\n"
    "8. 申请政府信息公开：发送“申请公开”获取申请表，发送“查询申请 编号”查看进度；\n"
    "9. 政策体检：发送“政策体检”，回答几个简单问题，看看您可能符合哪些政策；"
    "“我的信息”查看、“删除我的信息”删除保存的回答。\n"
    "急事请拨打 12345 政务服务便民热线。"
)

WELCOME = "感谢关注！\n" + HELP

MEDIA = {
    "image": "图片",
    "voice": "语音",
    "video": "视频",
    "shortvideo": "视频",
    "location": "位置",
    "link": "链接",
    "file": "文件",
}


@router.kind("subscribe")
async def welcome(message: Incoming, ctx: Context) -> Reply:
    await on_follow(message.openid, ctx.now)
    return TextReply(WELCOME)


@router.kind("unsubscribe")
async def goodbye(message: Incoming, ctx: Context) -> None:
    """Unfollowing stops every push at once; WeChat shows the resident nothing."""
    await on_unfollow(message.openid, ctx.now)
    return None


@router.command("帮助", "help", "HELP", "?", "？", "菜单")
async def help_(message: Incoming, ctx: Context) -> Reply:
    return TextReply(HELP)


@router.register(lambda m: m.kind in MEDIA and m.raw.get("MsgType") != "event")
async def media(message: Incoming, ctx: Context) -> Reply:
    what = MEDIA[message.kind]
    return TextReply(
        f"已收到您发送的{what}，但暂时只能识别文字。\n"
        "查政策请直接发送文字，如“低保怎么申请”；"
        "想反映问题请发送“留言 您的问题”。发送“帮助”查看全部用法。"
    )


@router.kind(
    "view",
    "view_miniprogram",
    "location",
    "templatesendjobfinish",
    "masssendjobfinish",
    "subscribe_msg_popup_event",
    "subscribe_msg_change_event",
    "subscribe_msg_sent_event",
    "scan",
)
async def silent_event(message: Incoming, ctx: Context) -> None:
    """Events WeChat expects no reply to (opening a link, send reports, 订阅通知 choices)."""
    return None
