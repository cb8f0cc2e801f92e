"""留言: residents leave a message that staff read and answer in the console."""

from __future__ import annotations

from bot import throttle
from bot.errors import DomainError
from bot.feedback.answers import leave_feedback
from bot.handlers.router import Router, command_argument
from bot.handlers.types import Context, Incoming, Reply, TextReply

router = Router("feedback")


@router.command("留言")
async def leave_message(message: Incoming, ctx: Context) -> Reply:
    text = command_argument(message.text)
    if not text:
        return TextReply(
            "请在“留言”后面写上您的问题，例如：\n留言 我家房子是危房，怎么申请改造补助？\n"
            "请不要填写身份证号、银行卡号等个人隐私。"
        )
    if refusal := await _over_limit(message.openid, ctx):
        return TextReply(refusal)
    try:
        record = await leave_feedback(message.openid, text)
    except DomainError as exc:
        return TextReply(exc.message)
    return TextReply(
        f"您的留言已收到（编号 {record.id}），工作人员会在工作日内处理并答复。\n"
        "急事请拨打 12345 政务服务便民热线。"
    )


async def _over_limit(openid: str, ctx: Context) -> str:
    """A polite refusal when this resident already left as many 留言 as allowed, else ""."""
    limits = ctx.services.settings.feedback
    redis = ctx.services.redis
    minute = await throttle.hit(redis, f"feedback:{openid}", 60)
    if minute.count > limits.per_minute:
        return (
            f"您留言太频繁了（每分钟最多 {limits.per_minute} 条），请 {minute.retry_after} 秒后再试。"
            "急事请拨打 12345 政务服务便民热线。"
        )
    day = await throttle.hit(redis, f"feedback:{openid}", 86400)
    if day.count > limits.per_day:
        return (
            f"您今天的留言已达 {limits.per_day} 条，工作人员会尽快处理，请明天再留言。"
            "急事请拨打 12345 政务服务便民热线。"
        )
    return ""
