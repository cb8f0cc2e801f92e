"""Chat commands for a phone number beyond WeChat: ``手机 138…`` and ``验证码 123456``.

A resident who may unfollow, or whose relative reads notices on a basic
phone, gives a number; a code by SMS proves it, and confirming is the
consent to SMS notices (TD to any SMS stops them).
"""

from __future__ import annotations

from bot.contacts import profile_link
from bot.contacts.verification import confirm_code, send_code
from bot.errors import DomainError, Unavailable
from bot.handlers.router import Router, command_argument
from bot.handlers.types import Context, Incoming, Reply, TextReply

router = Router("contact")

HOW = (
    "发送“手机 + 11 位手机号”登记接收短信通知的号码，例如“手机 13812345678”，我们会发送验证码确认。"
)


@router.command("手机", "手机号")
async def give_phone(message: Incoming, ctx: Context) -> Reply:
    number = command_argument(message.text)
    if not number:
        return TextReply(HOW)
    services = ctx.services
    try:
        masked = await send_code(message.openid, number, services.settings.sms, services.http)
    except DomainError as exc:
        return TextReply(exc.message)
    return TextReply(
        f"验证码已发送至 {masked}，5 分钟内有效。请回复“验证码 六位数字”确认。\n"
        "确认即表示您同意通过短信接收政策通知，收到短信后回复 TD 可随时退订。"
    )


@router.command("联系方式", "我的联系方式")
async def profile_page(message: Incoming, ctx: Context) -> Reply:
    try:
        link = profile_link(ctx.settings.server.base_url, message.openid)
    except Unavailable:
        return TextReply("暂未开通联系方式登记。")
    return TextReply(f'<a href="{link}">点此登记或修改手机号、邮箱</a>（24 小时内有效）。\n' + HOW)


@router.command("验证码")
async def confirm_phone(message: Incoming, ctx: Context) -> Reply:
    code = command_argument(message.text)
    if not code:
        return TextReply("请回复“验证码 六位数字”，例如“验证码 123456”。")
    try:
        masked = await confirm_code(message.openid, code, ctx.now)
    except DomainError as exc:
        return TextReply(exc.message)
    return TextReply(f"已登记手机号 {masked}。重要政策通知可通过短信送达；回复短信 TD 可退订。")
