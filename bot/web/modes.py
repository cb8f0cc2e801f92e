"""Reading modes of the resident pages, and the one place pages are rendered.

Two modes, each switched by a query parameter and remembered in a cookie
(the WeChat browser keeps cookies, but a link shared in a chat does not
carry them, so links also carry the active modes):

- 关怀版 (large print): ``?care=1`` / ``?care=0``, a class on ``<body>``;
- 繁體: ``?variant=hant`` / ``?variant=hans``; the rendered page is converted
  with OpenCC ``s2t`` as a whole, so every word on it is traditional.

Templates are Jinja2 with autoescaping on: titles and metadata come from
staff-edited files and the admin API, so nothing is inserted unescaped
except document bodies, which were sanitised by nh3 when they were saved.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
import opencc
from aiohttp import web

from bot.keys import SETTINGS

COOKIE_AGE = 365 * 24 * 3600
TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


@dataclass(frozen=True)
class Mode:
    care: bool
    hant: bool
    path: str = "/"
    query: tuple[tuple[str, str], ...] = ()

    def link(self, path: str, **params: Any) -> str:
        """A link to ``path`` that keeps the active modes (and any extra ``params``)."""
        query: dict[str, Any] = {}
        if self.care:
            query["care"] = "1"
        if self.hant:
            query["variant"] = "hant"
        query.update(params)
        return f"{path}?{urlencode(query)}" if query else path

    def _switch(self, key: str, value: str) -> str:
        query = {k: v for k, v in self.query if k not in ("care", "variant")}
        if self.care:
            query["care"] = "1"
        if self.hant:
            query["variant"] = "hant"
        query[key] = value
        return f"{self.path}?{urlencode(query)}"

    @property
    def toggle_care(self) -> str:
        return self._switch("care", "0" if self.care else "1")

    @property
    def toggle_variant(self) -> str:
        return self._switch("variant", "hans" if self.hant else "hant")


def read_mode(request: web.Request) -> Mode:
    q = request.query
    care = q["care"] == "1" if "care" in q else request.cookies.get("care") == "1"
    hant = q["variant"] == "hant" if "variant" in q else request.cookies.get("variant") == "hant"
    return Mode(care=care, hant=hant, path=request.path, query=tuple(q.items()))


def _cndate(value: dt.date | None) -> str:
    return f"{value.year}年{value.month}月{value.day}日" if value else ""


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.ChainableUndefined,
    )
    env.filters["cndate"] = _cndate
    return env


@cache
def _s2t() -> opencc.OpenCC:
    return opencc.OpenCC("s2t")


def to_traditional(text: str) -> str:
    return str(_s2t().convert(text))


def today(request: web.Request) -> dt.date:
    """Today in the server's time zone (validity and deadlines change at local midnight)."""
    return dt.datetime.now(request.app[SETTINGS].server.tz).date()


def render_page(
    request: web.Request, template: str, *, status: int = 200, **context: Any
) -> web.Response:
    mode = read_mode(request)
    html = _environment().get_template(template).render(mode=mode, **context)
    if mode.hant:
        html = to_traditional(html)
    response = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
    response.headers["Vary"] = "Cookie"
    for key in ("care", "variant"):
        if key in request.query:
            response.set_cookie(
                key, request.query[key], max_age=COOKIE_AGE, path="/", samesite="Lax"
            )
    return response
