"""The resident's H5 profile page: give or withdraw a phone and an email.

The page is reached from chat (``联系方式`` answers with the link): the link
carries the resident's openid signed with the privacy key and a 24-hour
expiry, so no login is needed and nobody else can open it. The forms call
the same rules as chat and the admin API (``bot.contacts``).
"""

from __future__ import annotations

from aiohttp import web

from bot import contacts
from bot.contacts.models import Contact
from bot.contacts.verification import confirm_code, send_code
from bot.errors import DomainError
from bot.keys import SERVICES
from bot.web.modes import render_page


def _openid(request: web.Request) -> str | None:
    return contacts.profile_openid(request.match_info["token"])


async def _page(
    request: web.Request, openid: str, notice: str = "", status: int = 200
) -> web.Response:
    shown = contacts.masked(await Contact.get_or_none(openid=openid))
    return render_page(request, "profile.html", status=status, title="我的联系方式",
                       contact=shown, notice=notice)  # fmt: skip


def _expired(request: web.Request) -> web.Response:
    return render_page(request, "error.html", status=404, title="链接已失效",
                       message="链接无效或已过期，请在公众号中发送“联系方式”重新获取。")  # fmt: skip


async def show(request: web.Request) -> web.Response:
    openid = _openid(request)
    return _expired(request) if openid is None else await _page(request, openid)


async def change(request: web.Request) -> web.Response:
    openid = _openid(request)
    if openid is None:
        return _expired(request)
    form = await request.post()
    action = str(form.get("action", ""))
    services = request.app[SERVICES]
    try:
        if action == "phone":
            masked = await send_code(openid, str(form.get("phone", "")), services.settings.sms,
                                     services.http)  # fmt: skip
            notice = f"验证码已发送至 {masked}，请在下方填写。"
        elif action == "code":
            notice = f"已登记手机号 {await confirm_code(openid, str(form.get('code', '')))}。"
        elif action == "email":
            if form.get("consent") != "yes":
                return await _page(request, openid, "请勾选同意后再保存邮箱。", 422)
            await contacts.record(openid, email=str(form.get("email", "")), source="h5")
            notice = "邮箱已保存。"
        elif action == "stop_sms":
            await contacts.stop_sms(openid=openid, reason="stopped on profile page")
            notice = "已停止短信通知。"
        elif action == "stop_email":
            await contacts.stop_email(openid)
            notice = "已退订邮件通知。"
        else:
            return await _page(request, openid, "未知操作。", 400)
    except DomainError as exc:
        return await _page(request, openid, exc.message, 422)
    return await _page(request, openid, notice)
