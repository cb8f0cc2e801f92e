"""The landing page at ``/``: what the account offers, a search box, the
subscribable topics, the newest policies, and the way in for staff.

The search box answers on the same page from the search index the chat
uses, so a resident in a browser finds what they would find in WeChat.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from bot.catalog.models import Policy, Status, Topic
from bot.keys import SERVICES
from bot.web.modes import render_page

NEWEST = 5
RESULTS = 10

KIND_LABEL = {"policy": "政策文件", "interpretation": "政策解读", "catalog_item": "公开事项"}


async def home_page(request: web.Request) -> web.Response:
    query = request.query.get("q", "").strip()[:100]
    results = []
    if query:
        for hit in await request.app[SERVICES].search.search(query, RESULTS):
            results.append(
                {
                    "path": urlsplit(hit.url).path,
                    "title": hit.title,
                    "kind": KIND_LABEL.get(hit.kind, ""),
                    "doc_number": hit.doc_number,
                }
            )
    newest = (
        await Policy.filter(status=Status.published)
        .order_by("-published_on", "-written_on", "id")
        .limit(NEWEST)
    )
    return render_page(
        request,
        "home.html",
        title="首页",
        query=query,
        results=results,
        topics=await Topic.all(),
        newest=newest,
    )
