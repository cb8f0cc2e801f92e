"""Tencent Cloud SMS callbacks: status reports and residents' replies (TD).

The URLs carry ``sms.callback_token`` (Tencent does not sign callbacks), so
only the console that was given the URL can post; without a token the
routes do not exist (404). Tencent expects ``{"result": 0, "errmsg": "OK"}``.
"""

from __future__ import annotations

import secrets

import orjson
from aiohttp import web

from bot.errors import Invalid
from bot.keys import SETTINGS
from bot.push import reach


def _check(request: web.Request) -> None:
    token = request.app[SETTINGS].sms.callback_token.get_secret_value()
    given = request.match_info.get("token", "")
    if not token or not secrets.compare_digest(given.encode(), token.encode()):
        raise web.HTTPNotFound()


async def _json(request: web.Request) -> object:
    try:
        return orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise web.HTTPBadRequest(text="not JSON") from None


def _ok() -> web.Response:
    return web.json_response({"result": 0, "errmsg": "OK"})


async def status_reports(request: web.Request) -> web.Response:
    _check(request)
    try:
        await reach.sms_reports(await _json(request))
    except Invalid as exc:
        raise web.HTTPBadRequest(text=exc.message) from None
    return _ok()


async def replies(request: web.Request) -> web.Response:
    _check(request)
    try:
        await reach.sms_reply(await _json(request))
    except Invalid as exc:
        raise web.HTTPBadRequest(text=exc.message) from None
    return _ok()
