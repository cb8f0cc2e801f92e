"""/feed.atom: the newest published documents of every kind with a feed entry (RFC 4287).

Built with ElementTree so that every title and summary is escaped; entry ids
are the documents' public URLs, which never change (ids are stable).
"""

from __future__ import annotations

import datetime as dt
from xml.etree import ElementTree as ET

from aiohttp import web

from bot.catalog.kinds import FeedEntry, all_kinds
from bot.keys import SETTINGS
from bot.web.modes import today

ATOM = "http://www.w3.org/2005/Atom"
LIMIT = 30


def _stamp(day: dt.date | None, fallback: dt.datetime, tz: dt.tzinfo) -> str:
    moment = dt.datetime.combine(day, dt.time(), tz) if day else fallback
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    if text is not None:
        element.text = text
    return element


async def atom_feed(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    base, tz = settings.server.base_url, settings.server.tz
    day = today(request)
    found: list[tuple[str, FeedEntry]] = []
    for kind in all_kinds():
        if kind.feed_entry is None:
            continue
        more = kind.feed_filter(day) if kind.feed_filter else {}
        rows = (
            await kind.model.filter(**kind.published, **more).order_by("-updated_at").limit(LIMIT)
        )
        for row in rows:
            item = kind.feed_entry(row)
            found.append((_stamp(item.day, item.changed, tz), item))
    found.sort(key=lambda e: (e[0], e[1].path), reverse=True)
    entries = [
        (stamp, e.path, e.title, e.author, e.summary, e.category) for stamp, e in found[:LIMIT]
    ]

    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed", {"{http://www.w3.org/XML/1998/namespace}lang": "zh-CN"})
    _sub(feed, "id", f"{base}/feed.atom")
    _sub(feed, "title", "政策在线：最新政策与解读")
    _sub(feed, "updated", entries[0][0] if entries else "1970-01-01T00:00:00Z")
    _sub(feed, "link", rel="self", href=f"{base}/feed.atom", type="application/atom+xml")
    _sub(feed, "link", rel="alternate", href=f"{base}/policies", type="text/html")
    author = _sub(feed, "author")
    _sub(author, "name", "政策在线")
    for updated, path, title, issuer, summary, category in entries:
        entry = _sub(feed, "entry")
        _sub(entry, "id", base + path)
        _sub(entry, "title", title)
        _sub(entry, "updated", updated)
        _sub(entry, "link", rel="alternate", href=base + path, type="text/html")
        if issuer:
            _sub(_sub(entry, "author"), "name", issuer)
        _sub(entry, "category", term=category)
        _sub(entry, "summary", summary)
    body = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return web.Response(body=body, content_type="application/atom+xml", charset="utf-8")
