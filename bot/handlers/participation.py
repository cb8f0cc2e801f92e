"""Public participation in chat: 申请公开 / 查询申请 (依申请公开) and 征求意见 / 意见 N …

A request's state is told only to its applicant: from the WeChat that applied,
or with the last four digits of the applicant's phone. Anyone else gets the
same answer as for a number that does not exist.
"""

from __future__ import annotations

import re

from bot.handlers.router import Router, command_argument
from bot.handlers.types import Context, Incoming, Reply, TextReply
from bot.participation import consultations, requests
from bot.privacy import sealer

router = Router("participation")

NOT_FOUND = (
    "没有查到您的申请。请核对申请编号；若申请由工作人员代为登记，"
    "请发送“查询申请 编号 手机号后四位”，如“查询申请 YSQ2026-000012 1234”。"
)


@router.command("申请公开", "依申请公开")
async def apply(message: Incoming, ctx: Context) -> Reply:
    url = f"{ctx.settings.server.base_url}/disclosure/apply"
    return TextReply(
        "申请政府信息公开，请填写申请表：\n"
        f"{url}\n"
        "提交后即可获得申请编号和答复期限（收到申请之日起 20 个工作日内）。"
        "之后发送“查询申请 编号”查看进度。"
    )


@router.command("查询申请")
async def check(message: Incoming, ctx: Context) -> Reply:
    words = command_argument(message.text).split()
    if not words:
        return TextReply("请发送“查询申请 申请编号”，如“查询申请 YSQ2026-000012”。")
    number = words[0]
    last4 = words[1] if len(words) > 1 else None
    if last4 is not None and not re.fullmatch(r"\d{4}", last4):
        return TextReply(NOT_FOUND)
    req = await requests.lookup(number, message.openid, last4)
    if req is not None and last4 is not None and not requests.phone_matches(req, sealer(ctx.settings.privacy), last4):  # fmt: skip
        req = None
    if req is None:
        return TextReply(NOT_FOUND)
    info = requests.public_json(req)
    lines = [
        f"申请编号：{req.number}",
        f"收到日期：{info['received_on']}",
        f"办理状态：{info['state_name']}",
    ]
    if req.state.value == "answered":
        lines.append(
            f"答复结果：{req.outcome}" + (f"（{req.outcome_reason}）" if req.outcome_reason else "")
        )
        lines.append(f"答复日期：{req.replied_on}")
    elif req.state.value in ("supplement", "third_party"):
        lines.append("答复期限暂停计算，恢复后重新计算。")
    else:
        lines.append(f"答复期限：{info['due_on']}" + ("（估算）" if req.due_estimated else ""))
    return TextReply("\n".join(lines))


@router.command("征求意见", "意见征集")
async def open_consultations(message: Incoming, ctx: Context) -> Reply:
    return TextReply(await consultations.open_list_text(ctx.settings))


@router.command("意见")
async def comment(message: Incoming, ctx: Context) -> Reply:
    return TextReply(
        await consultations.comment_from_chat(
            ctx.settings, message.openid, command_argument(message.text)
        )
    )
