"""The audit trail screen (admins): filter by person and action, check the chain, CSV."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from bot import audit
from bot.config import Role
from bot.models import AuditEntry
from bot.web.audit_trail import csv_response
from bot.web.console.frame import User, can, page, page_number, refuse, render

PER_PAGE = 50
ACTIONS = {
    "login.success": "登录成功",
    "login.failure": "登录失败",
    "login.locked": "锁定期间尝试登录",
    "logout": "退出登录",
    "access.refused": "操作被拒绝（无权限或表单失效）",
    "account.create": "新建账号",
    "account.disable": "停用账号",
    "account.enable": "启用账号",
    "account.reset": "重置密码",
    "account.password": "修改密码",
    "account.bind": "绑定微信",
    "account.binding_code": "生成微信绑定码",
    "tester.add": "登记测试人员",
    "tester.remove": "移除测试人员",
    "campaign.test_send": "测试发送",
}  # fmt: skip  (other actions are shown by their code)


@page
async def audit_page(request: web.Request, user: User) -> web.Response:
    if not can(user, Role.admin):
        return refuse(request, user, "只有管理员可以查看审计日志。")
    number = page_number(request)
    filters = {k: request.query.get(k, "").strip()[:64] for k in ("actor", "action")}
    query = AuditEntry.filter(**{k: v for k, v in filters.items() if v})
    total = await query.count()
    rows = await query.order_by("-id").offset((number - 1) * PER_PAGE).limit(PER_PAGE)
    check = await audit.verify() if request.query.get("verify") else None
    return render(request, "audit.html", user, title="审计日志", rows=rows, total=total,
                  page=number, pages=max(1, -(-total // PER_PAGE)), check=check,
                  actions=ACTIONS, filters=filters, query=urlencode(filters))  # fmt: skip


@page
async def audit_csv(request: web.Request, user: User) -> web.StreamResponse:
    if not can(user, Role.admin):
        return refuse(request, user, "只有管理员可以导出审计日志。")
    return await csv_response(request)
