"""The signed unsubscribe link of every notice email (``List-Unsubscribe``).

GET shows a confirmation button (mail scanners fetch links, so a GET must
change nothing); POST stops email at once, whether from that button or
from a mail client's one-click unsubscribe (RFC 8058). The token is the
authorisation: no login, no CSRF token.
"""

from __future__ import annotations

from aiohttp import web

from bot import contacts, privacy
from bot.errors import Unavailable
from bot.web.modes import render_page


def _openid(request: web.Request) -> str | None:
    try:
        return privacy.unsign("unsubscribe", request.match_info["token"])
    except Unavailable:
        return None


async def confirm_email(request: web.Request) -> web.Response:
    if _openid(request) is None:
        return render_page(request, "unsubscribe.html", status=404, title="链接无效",
                           message="退订链接无效或已失效。")  # fmt: skip
    return render_page(request, "unsubscribe.html", title="退订邮件通知", confirm=True,
                       message="确认后将不再通过电子邮件向您发送政策通知。")  # fmt: skip


async def unsubscribe_email(request: web.Request) -> web.Response:
    openid = _openid(request)
    if openid is None:
        return render_page(request, "unsubscribe.html", status=404, title="链接无效",
                           message="退订链接无效或已失效。")  # fmt: skip
    await contacts.stop_email(openid)
    return render_page(request, "unsubscribe.html", title="已退订",
                       message="已退订邮件通知，今后不再向此邮箱发送。")  # fmt: skip
