"""The OpenAPI document at /api/v1/openapi.json, built from the app's router.

Every JSON route (everything under /api/, plus /healthz) is described,
whoever registered it, so the document cannot drift from the routes. A
handler's docstring gives the summary; ``@document(...)`` adds query
parameters, a request body and the response schema when the handler has them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot.web.responses import json_response

JSON_PREFIX = "/api/"
EXTRA_JSON_PATHS = ("/healthz",)
_PARAM = re.compile(r"\{(\w+)[^}]*\}")

Handler = Callable[..., Any]

_STR = {"type": "string"}
_DATE = {"type": ["string", "null"], "format": "date"}
_INTERP = {
    "type": "object",
    "properties": {
        "id": _STR,
        "title": _STR,
        "form": _STR,
        "issuer": _STR,
        "published_on": _DATE,
        "url": {"type": "string", "format": "uri"},
    },
}
_POLICY = {
    "type": "object",
    "properties": {
        "id": _STR,
        "title": _STR,
        "issuer": _STR,
        "doc_number": {"type": ["string", "null"], "description": "文号"},
        "index_number": {"type": ["string", "null"], "description": "索引号"},
        "written_on": {"type": "string", "format": "date", "description": "成文日期"},
        "published_on": _DATE,
        "validity": {"type": "string", "enum": ["有效", "失效", "废止"]},
        "expires_on": _DATE,
        "replaced_by": {"type": ["string", "null"]},
        "disclosure": {"type": "string", "enum": ["主动公开", "依申请公开"]},
        "areas": {"type": "array", "items": _STR},
        "topics": {"type": "array", "items": _STR},
        "keywords": {"type": "array", "items": _STR},
        "summary": _STR,
        "url": {"type": "string", "format": "uri"},
        "interpretations": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/Interpretation"},
        },
    },
}
_NAMED_LIST = {
    "type": "object",
    "properties": {"items": {"type": "array", "items": {"type": "object"}}},
}
SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {"code": _STR, "message": _STR},
                "required": ["code", "message"],
            }
        },
    },
    "Interpretation": _INTERP,
    "Policy": _POLICY,
    "PolicyDetail": {
        "allOf": [
            {"$ref": "#/components/schemas/Policy"},
            {"type": "object", "properties": {"body_html": _STR, "current_version": _STR}},
        ]
    },
    "PolicyPage": {
        "type": "object",
        "properties": {
            "total": {"type": "integer"},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Policy"}},
        },
    },
    "TopicList": _NAMED_LIST,
    "AreaList": _NAMED_LIST,
    "Object": {"type": "object"},
    # Channels beyond WeChat.
    "ContactBody": {
        "type": "object",
        "properties": {
            "phone": {"type": "string", "description": "11 位大陆手机号，+86 可选"},
            "email": {"type": "string", "format": "email"},
            "consent": {"type": "boolean", "enum": [True]},
        },
        "required": ["consent"],
    },
    "Contact": {
        "type": "object",
        "properties": {
            "openid": _STR,
            "phone": {"type": "string", "description": "masked, 138****5678"},
            "email": {"type": "string", "description": "masked, z***@example.cn"},
            "phone_consent_at": _STR,
            "email_consent_at": _STR,
            "sms_stopped_at": _STR,
            "email_stopped_at": _STR,
            "source": _STR,
        },
    },
}


def document(
    *,
    params: dict[str, str] | None = None,
    body: str | None = None,
    response: str | None = None,
) -> Callable[[Handler], Handler]:
    """Describe a JSON handler: query ``params`` (name → description), ``body`` and
    ``response`` schema names (see ``SCHEMAS``; unknown names mean "an object")."""

    def decorate(handler: Handler) -> Handler:
        handler.__openapi__ = {"params": params or {}, "body": body, "response": response}  # type: ignore[attr-defined]
        return handler

    return decorate


def is_json_path(path: str) -> bool:
    return path.startswith(JSON_PREFIX) or path in EXTRA_JSON_PATHS


def json_routes(app: web.Application) -> list[tuple[str, str, Handler]]:
    """(method, path, handler) of every JSON route, as aiohttp knows them."""
    out = []
    for route in app.router.routes():
        if route.method in ("HEAD", "OPTIONS") or route.resource is None:
            continue
        path = route.resource.canonical
        if is_json_path(path):
            out.append((route.method.lower(), path, route.handler))
    return out


def _schema_ref(name: str | None) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name if name in SCHEMAS else 'Object'}"}


def _operation(method: str, path: str, handler: Handler) -> dict[str, Any]:
    info = getattr(handler, "__openapi__", {})
    doc = (handler.__doc__ or "").strip().splitlines()
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": _STR}
        for name in _PARAM.findall(path)
    ]
    parameters += [
        {"name": name, "in": "query", "required": False, "description": text, "schema": _STR}
        for name, text in info.get("params", {}).items()
    ]
    operation: dict[str, Any] = {
        "operationId": f"{method}_{re.sub(r'[^a-z0-9]+', '_', path.lower()).strip('_')}",
        "summary": doc[0] if doc else f"{method.upper()} {path}",
        "parameters": parameters,
        "responses": {
            "200": {
                "description": "OK",
                "content": {"application/json": {"schema": _schema_ref(info.get("response"))}},
            },
            "default": {
                "description": "错误",
                "content": {"application/json": {"schema": _schema_ref("Error")}},
            },
        },
    }
    if method in ("post", "put", "patch"):
        operation["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": _schema_ref(info.get("body"))}},
        }
    if path.startswith("/api/v1/admin/"):
        operation["security"] = [{"bearerAuth": []}]
        operation["tags"] = ["admin"]
    else:
        operation["tags"] = ["open-data" if path.startswith("/api/") else "ops"]
    return operation


def build_spec(app: web.Application, base_url: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for method, path, handler in json_routes(app):
        paths.setdefault(path, {})[method] = _operation(method, path, handler)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "政策在线 开放数据与管理接口",
            "version": "1",
            "description": "已发布的政策文件、解读、主题与领域（开放数据），以及需令牌的管理接口。",
        },
        "servers": [{"url": base_url}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }


async def openapi_json(request: web.Request) -> web.Response:
    """This OpenAPI document."""
    from bot.keys import SETTINGS

    spec = build_spec(request.app, request.app[SETTINGS].server.base_url)
    return json_response(spec, headers={"Access-Control-Allow-Origin": "*"})
