"""``绑定 CODE``: a member of staff binds their own WeChat for test sends.

The one-time code comes from the console (我的账号) and lasts 10 minutes.
Wrong codes count like failed log-ins, per sender: five lock that WeChat
user out of binding for 15 minutes, so codes cannot be guessed by chat.
"""

from __future__ import annotations

from bot.accounts import services as accounts
from bot.accounts.lockout import Lockout
from bot.handlers.router import Router, command_argument
from bot.handlers.types import Context, Incoming, Reply, TextReply

router = Router("binding")

HOW = "“绑定”供工作人员接收测试推送：请在管理后台“我的账号”生成绑定码，再发送“绑定 绑定码”。"


@router.command("绑定")
async def bind(message: Incoming, ctx: Context) -> Reply:
    code = command_argument(message.text)
    if not code:
        return TextReply(HOW)
    lockout, keys = Lockout(ctx.services.redis), (f"binding:{message.openid}",)
    if await lockout.locked(keys):
        return TextReply("尝试次数过多，请 15 分钟后再试。")
    account = await accounts.bind(code, message.openid)
    if account is None:
        await lockout.failed(keys)
        return TextReply("绑定码无效或已过期，请在管理后台“我的账号”重新生成。")
    return TextReply(f"已绑定工作人员账号“{account.name}”，测试推送将发送到这个微信。")
