"""The staff and editor console at /admin/: one module per screen; the routes are in ``bot.web.routes``.

Staff log in with their named account (``login``; ``accounts`` for admins'
account management and everyone's own account, ``audit`` for the trail), then see what needs them (``dashboard``), write and
review policies with their interpretations (``policies``, ``review``),
compose, approve and follow pushes (``campaigns``), answer 留言
(``feedback``), look at subscribers (``residents``), handle 依申请公开
(``disclosure``) and 征求意见 (``consultations``), and fix what residents
could not find (``search``). Shared plumbing —
rendering, sessions, CSRF, roles, navigation — is ``frame``. Every screen
calls the same domain functions as the admin API, so the two cannot disagree.
"""

from __future__ import annotations

from aiohttp import web

from bot.web import session
from bot.web.console import residents


async def to_dashboard(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/admin/")


def setup(app: web.Application) -> None:
    """The console's non-route set-up: sessions and the residents screen (routes: ``routes.staff``)."""
    session.setup(app)
    residents.setup(app)
