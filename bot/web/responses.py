"""The one JSON writer of every JSON route, so all of them keep Chinese readable.

aiohttp's default (``json.dumps``) writes every Chinese character as a
``\\uXXXX`` escape; orjson writes UTF-8 as is, and is what the rest of the
app already uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web


def dumps(data: Any) -> str:
    # Non-string keys are accepted (as json.dumps accepts them) so no route can fail on one.
    return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS).decode()


def json_response(
    data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.json_response(data, status=status, headers=headers, dumps=dumps)
