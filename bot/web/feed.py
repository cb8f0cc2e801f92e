"""/feed.atom: the newest published policies, interpretations and consultations (RFC 4287).

Built with ElementTree so that every title and summary is escaped; entry ids
are the documents' public URLs, which never change (ids are stable).
"""

from __future__ import annotations

import datetime as dt
from xml.etree import ElementTree as ET

from aiohttp import web

from bot.catalog.models import Interpretation, Policy, Status
from bot.catalog.render import plain_text
from bot.participation.models import Consultation, ConsultationStatus
from bot.web.keys import SETTINGS

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


async def _consultation_entries(tz: dt.tzinfo) -> list[tuple[str, str, str, str, str, str]]:
    """Open consultations, and their feedback report once out (the entry updates then).
    Comments never appear here: the feed carries nothing a resident wrote."""
    today = dt.datetime.now(tz).date()
    rows = (
        await Consultation.filter(status=ConsultationStatus.published, opens_on__lte=today)
        .order_by("-updated_at")
        .limit(LIMIT)
    )
    out = []
    for c in rows:
        period = f"征求意见期限：{c.opens_on} 至 {c.closes_on}。"
        if c.report_published_at:
            updated = _stamp(None, c.report_published_at, tz)
            summary, category = f"意见采纳情况已公布。{c.report_text or ''}{period}", "意见采纳情况"
        else:
            updated = _stamp(c.opens_on, c.updated_at, tz)
            summary, category = period + plain_text(c.intro_html, 160), c.kind.value
        out.append((updated, f"/consultations/{c.id}", c.title, c.issuer, summary, category))
    return out


async def atom_feed(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    base, tz = settings.server.base_url, settings.server.tz
    policies = await Policy.filter(status=Status.published).order_by("-updated_at").limit(LIMIT)
    interps = (
        await Interpretation.filter(status=Status.published).order_by("-updated_at").limit(LIMIT)
    )
    entries = [
        (
            _stamp(p.published_on, p.updated_at, tz),
            f"/policies/{p.id}",
            p.title,
            p.issuer,
            p.summary or plain_text(p.body_html, 200),
            "政策文件",
        )
        for p in policies
    ] + [
        (
            _stamp(i.published_on, i.updated_at, tz),
            f"/interpretations/{i.id}",
            i.title,
            i.issuer or "",
            plain_text(i.body_html, 200),
            i.form.value,
        )
        for i in interps
    ]
    entries += await _consultation_entries(tz)
    entries.sort(key=lambda e: (e[0], e[1]), reverse=True)
    entries = entries[:LIMIT]

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
