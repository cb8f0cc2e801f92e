"""Attachment files: served to residents with safe headers, uploaded by staff.

``GET /attachments/{name}`` serves a file only when its bytes are of a type
we accept (``bot.catalog.attachments.sniff``), with that type — never one
guessed from the name —, ``nosniff``, a ``Content-Disposition`` (PDF
originals download, images and video show inline) and a CSP that lets no
script run inside it. ``POST /api/v1/admin/attachments`` stores an upload
(publisher) and answers the name to list under a policy's ``attachments``.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from bot import audit
from bot.catalog import attachments
from bot.config import Role
from bot.keys import SETTINGS
from bot.web.auth import actor, require_role
from bot.web.openapi import document
from bot.web.pages import not_found
from bot.web.responses import json_response

CHUNK = 64 * 1024


async def serve(request: web.Request) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    name = request.match_info["name"]
    path = attachments.locate(name, settings.content.dir, settings.attachments.dir)
    kind = attachments.read_type(path) if path else None
    if path is None or kind is None:
        return not_found(request, "没有这个附件。")
    disposition = "attachment" if kind.kind == "pdf" else "inline"
    headers = {
        "Content-Type": kind.content_type,
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(name)}",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "public, max-age=86400",
    }
    return web.FileResponse(path, headers=headers)


@document(body="Upload", response="Object")
async def upload(request: web.Request) -> web.Response:
    """Store an attachment (PDF, image or MP4, checked by content) and return its file name (publisher)."""
    token = require_role(request, Role.publisher)
    limit = request.app[SETTINGS].attachments.max_bytes
    data = bytearray()
    async for chunk in request.content.iter_chunked(CHUNK):
        data += chunk
        if len(data) > limit:
            raise attachments.too_large(limit)
    name, kind = attachments.store_upload(bytes(data), request.app[SETTINGS].attachments.dir, limit)
    await audit.record(actor(token), "attachment.upload", "attachment", name, size=len(data))
    return json_response(
        {
            "file": name,
            "kind": kind.kind,
            "content_type": kind.content_type,
            "url": f"/attachments/{name}",
        },
        status=201,
    )
