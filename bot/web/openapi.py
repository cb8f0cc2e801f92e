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

# --- request bodies of the admin API ----------------------------------------------------------
# Publishing bodies are described by the content format's own converters
# (``bot.catalog.fields``), so the document names exactly the fields the API accepts.

_LABELS = {"title": "标题", "issuer": "发布机构", "written_on": "成文日期", "published_on": "发布日期（留空为发布当天）",
           "doc_number": "文号", "index_number": "索引号", "areas": "领域名称", "topics": "主题 id",
           "validity": "有效性", "expires_on": "失效日期", "replaced_by": "替代它的政策 id",
           "disclosure": "公开方式", "requires_interpretation": "须与解读同步发布",
           "policy": "所解读的政策 id（可省略，须为本政策）", "form": "解读形式", "media_url": "媒体链接",
           "attachments": "附件：content/attachments/ 或上传接口返回的文件名，及标题"}  # fmt: skip
_MARKDOWN = {"type": "string", "description": "正文（Markdown）"}
_HASH = {"type": "string", "pattern": "^[0-9a-f]{64}$", "description": "审核人所审阅版本的哈希"}


def _labelled(schema: dict[str, Any]) -> dict[str, Any]:
    for key, prop in schema["properties"].items():
        if key in _LABELS:
            prop.setdefault("description", _LABELS[key])
    return schema


def _admin_bodies() -> dict[str, Any]:
    from bot.catalog.fields import INTERPRETATION_FIELDS, POLICY_FIELDS, json_schema

    interp = _labelled(json_schema(INTERPRETATION_FIELDS, body=_MARKDOWN))
    interp["required"] = [key for key in interp["required"] if key != "policy"]
    interps = {"type": "array", "items": {"$ref": "#/components/schemas/InterpretationBody"},
               "description": "同步发布的解读（给出时替换全部解读）"}  # fmt: skip
    policy = _labelled(json_schema(POLICY_FIELDS, body=_MARKDOWN, interpretations=interps))
    audience = {
        "type": "object",
        "properties": {
            "topics": {"type": "array", "items": _STR, "description": "主题 id 或名称（任一）"},
            "regions": {"type": "array", "items": _STR, "description": "镇街名称（任一）"},
            "everyone": {"type": "boolean", "description": "全体关注者"},
        },
        "additionalProperties": False,
    }
    return {
        "PolicyBody": policy,
        "InterpretationBody": interp,
        "PublishBody": {
            "type": "object",
            "properties": {"version_hash": _HASH},
            "required": ["version_hash"],
        },
        "ReasonBody": {
            "type": "object",
            "properties": {"reason": {"type": "string", "maxLength": 500}},
        },
        "Audience": audience,
        "CampaignBody": {
            "type": "object",
            "properties": {
                "title": {"type": "string", "maxLength": 128},
                "text": {"type": "string", "maxLength": 1500},
                "policy_id": {"type": "string", "maxLength": 80},
                "interpretation_id": {"type": "string", "maxLength": 80},
                "audience": {"$ref": "#/components/schemas/Audience"},
                "channel": {"type": "string", "enum": ["template", "mass", "customer"]},
                "send_at": {"type": "string", "format": "date-time", "description": "默认立即"},
                "cron": {"type": "string", "maxLength": 128, "description": "重复规则（crontab）"},
                "template_id": {"type": "string", "maxLength": 128},
            },
            "required": ["title", "audience", "channel"],
        },
        "ApproveBody": {"type": "object", "properties": {"version_hash": _HASH}},
        "TestSendBody": {
            "type": "object",
            "properties": {"openids": {"type": "array", "items": _STR, "minItems": 1}},
            "required": ["openids"],
        },
        "AudienceBody": {
            "type": "object",
            "properties": {"audience": {"$ref": "#/components/schemas/Audience"}},
        },
        "AnswerBody": {
            "type": "object",
            "properties": {"answer": {"type": "string"}},
            "required": ["answer"],
        },
        **_participation_bodies(),
        "SearchRule": {  # bot.search_admin_api: a synonym (word + terms) or a keyword (+ doc)
            "type": "object",
            "properties": {
                "word": {"type": "string", "description": "居民用的词"},
                "terms": {
                    "type": "array",
                    "items": _STR,
                    "description": "同义词：检索时一并查找的词",
                },
                "doc_kind": {
                    "type": "string",
                    "enum": ["policy", "interpretation"],
                    "default": "policy",
                },
                "doc_id": {"type": "string", "description": "关键词：该词直接指向的文件"},
                "miss_id": {"type": "integer", "description": "由此处理的未找到记录"},
            },
            "required": ["word"],
        },
    }


def _obj(required: list[str], **properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required}


def _participation_bodies() -> dict[str, dict[str, Any]]:
    """Bodies of the consultation and disclosure-request routes (CONTRACT: Public participation)."""
    day = {"type": "string", "format": "date"}
    text = {"type": "string"}
    applicant = _obj(
        ["type", "name", "id_type", "id_number", "phone"],
        type={"type": "string", "enum": ["公民", "法人或其他组织"]},
        name=text, id_type=text, id_number=text, phone=text, address=text, email=text,
    )  # fmt: skip
    return {
        "ConsultationBody": _obj(
            ["id", "title", "issuer", "kind", "opens_on", "closes_on"],
            id=text,
            title=text,
            issuer=text,
            kind={"type": "string", "enum": ["重大行政决策", "规范性文件", "调研"]},
            opens_on=day,
            closes_on=day,
            shortened_reason=text,
            topics={"type": "array", "items": text},
            areas={"type": "array", "items": text},
            body={"type": "string", "description": "草案正文，以 ## 标题分节"},
        ),
        "DecisionBody": _obj(
            ["decision", "reason"],
            decision={"type": "string", "enum": ["采纳", "部分采纳", "未采纳"]},
            reason=text,
        ),
        "HideBody": _obj(["reason"], reason=text),
        "ReportBody": _obj([], text={"type": "string", "description": "意见采纳情况的说明"}),
        "DisclosureApplication": _obj(
            ["applicant", "description", "delivery"],
            applicant=applicant,
            description=text,
            purpose=text,
            delivery={"type": "string", "enum": ["微信", "电子邮件", "邮寄", "自行领取"]},
            openid=text,
            received_on=day,
        ),
        "ExtendBody": _obj(
            ["reason", "approver"],
            reason=text,
            approver=text,
            days={"type": "integer", "minimum": 1, "maximum": 20},
        ),
        "SupplementBody": _obj(["what"], what=text),
        "SuppliedBody": _obj([], on=day),
        "ThirdPartyBody": _obj([], done={"type": "boolean"}, on=day),
        "ReplyBody": _obj(
            ["outcome", "text"],
            outcome={
                "type": "string",
                "enum": ["予以公开", "部分公开", "不予公开", "无法提供", "不予处理", "其他处理"],
            },
            reason=text,
            text=text,
            attachments={"type": "array", "items": _obj(["name", "url"], name=text, url=text)},
        ),
    }


SCHEMAS.update(_admin_bodies())


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
    if info.get("body") == "Upload":
        binary = {
            "type": "string",
            "format": "binary",
            "description": "文件内容（PDF、图片或 MP4）",
        }
        operation["requestBody"] = {
            "required": True,
            "content": {"application/octet-stream": {"schema": binary}},
        }
    elif info.get("body"):
        operation["requestBody"] = {
            "required": True,
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
