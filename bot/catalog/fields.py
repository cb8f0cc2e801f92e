"""Front-matter fields: one converter per field, shared by content files and the admin API.

Each converter returns the typed value or raises ``FieldError`` with a
message for staff (in Chinese); ``convert_fields`` runs a whole table of
them and reports every problem, not just the first.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from bot.catalog.attachments import valid_name
from bot.catalog.models import Disclosure, InterpretationForm, Validity

ID_RE = re.compile(r"^[a-z0-9-]+$")


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the content, located as ``path:line``."""

    path: str
    line: int
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{self.path}:{self.line}: {prefix}{self.message}"


class FieldError(ValueError):
    """A field value that its converter rejects; the message is shown to staff."""


Converter = Callable[[Any], Any]


def text(max_len: int | None = None) -> Converter:
    def convert(value: Any) -> str:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise FieldError("应为文本")
        value = value.strip()
        if max_len is not None and len(value) > max_len:
            raise FieldError(f"过长（最多 {max_len} 个字符）")
        return value

    convert.json_schema = {"type": "string", **({"maxLength": max_len} if max_len else {})}  # type: ignore[attr-defined]
    return convert


def ident(value: Any) -> str:
    value = text(80)(value)
    if not ID_RE.fullmatch(value):
        raise FieldError(f"'{value}' 只能包含小写字母、数字和连字符 [a-z0-9-]")
    return value


def date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        raise FieldError("应为日期 YYYY-MM-DD（不带时间）")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise FieldError(f"'{value}' 不是有效日期（应为 YYYY-MM-DD）")


def str_list(max_len: int = 64) -> Converter:
    def convert(value: Any) -> list[str]:
        items = [value] if isinstance(value, (str, int)) else value
        if not isinstance(items, list):
            raise FieldError("应为列表，如 [甲, 乙]")
        out = [text(max_len)(item) for item in items]
        return [item for item in out if item]

    convert.json_schema = {"type": "array", "items": {"type": "string", "maxLength": max_len}}  # type: ignore[attr-defined]
    return convert


# Other spellings of enumeration values that standard catalogs and staff use.
SPELLINGS: dict[str, str] = {
    "主动": "主动公开",
    "依申请": "依申请公开",
    "现行有效": "有效",
    "已失效": "失效",
    "已废止": "废止",
    "文字": "文字解读",
    "图片": "图片解读",
    "视频": "视频解读",
    "访谈": "访谈解读",
}


def choice(enum: type[StrEnum]) -> Converter:
    """One of an enumeration's values, or a spelling from ``SPELLINGS`` that means it."""

    def convert(value: Any) -> StrEnum:
        raw = str(value).strip()
        try:
            return enum(SPELLINGS.get(raw, raw))
        except ValueError:
            options = "、".join(e.value for e in enum)
            raise FieldError(f"'{value}' 不是可选值（{options}）") from None

    convert.json_schema = {"type": "string", "enum": [e.value for e in enum]}  # type: ignore[attr-defined]
    return convert


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise FieldError("应为 true 或 false")


def http_url(value: Any) -> str:
    value = text(512)(value)
    if not re.fullmatch(r"https?://[^\s<>\"']+", value):
        raise FieldError(f"'{value}' 不是 http(s) 网址")
    return value


def coordinates(value: Any) -> tuple[float, float]:
    """``[纬度, 经度]`` in degrees (WGS-84/GCJ-02 as WeChat reports them)."""
    numbers = isinstance(value, list) and len(value) == 2
    if not numbers or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
    ):
        raise FieldError("应为 [纬度, 经度]，如 [30.28, 120.15]")
    lat, lon = float(value[0]), float(value[1])
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise FieldError("纬度应在 -90 到 90 之间，经度应在 -180 到 180 之间")
    return lat, lon


def positive_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise FieldError("应为正数")
    return float(value)


def attachment_list(value: Any) -> list[dict[str, str]]:
    """``attachments:``: file names under ``content/attachments/`` (or console uploads),
    each a name or ``{file, title}``; the type is checked from the file's bytes."""
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        raw = item if isinstance(item, dict) else {"file": item}
        name = text(128)(raw.get("file", ""))
        if not valid_name(name):
            raise FieldError(f"'{name}' 不是有效的附件文件名（字母、数字、. _ -，不含目录）")
        if set(raw) - {"file", "title"}:
            raise FieldError("附件只能有 file 和 title 两项")
        out.append({"file": name, "title": text(100)(raw.get("title") or name)})
    return out


attachment_list.json_schema = {  # type: ignore[attr-defined]
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"file": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$"},
                       "title": {"type": "string", "maxLength": 100}},
        "required": ["file"],
    },
}  # fmt: skip


@dataclass(frozen=True)
class Spec:
    convert: Converter
    required: bool = False
    default: Any = None


POLICY_FIELDS: dict[str, Spec] = {
    "id": Spec(ident, required=True),
    "title": Spec(text(255), required=True),
    "issuer": Spec(text(128), required=True),
    "written_on": Spec(date, required=True),
    "published_on": Spec(date),
    "doc_number": Spec(text(64)),
    "index_number": Spec(text(64)),
    "areas": Spec(str_list(), default=[]),
    "topics": Spec(str_list(), default=[]),
    "keywords": Spec(str_list(), default=[]),
    "summary": Spec(text(1000), default=""),
    "validity": Spec(choice(Validity), default=Validity.valid),
    "expires_on": Spec(date),
    "replaced_by": Spec(ident),
    "disclosure": Spec(choice(Disclosure), default=Disclosure.proactive),
    "requires_interpretation": Spec(boolean, default=False),
    "attachments": Spec(attachment_list, default=[]),
}  # the policy kind adds ``eligibility``, whose converter (bot.eligibility) builds on these

INTERPRETATION_FIELDS: dict[str, Spec] = {
    "id": Spec(ident, required=True),
    "title": Spec(text(255), required=True),
    "policy": Spec(ident, required=True),
    "form": Spec(choice(InterpretationForm), default=InterpretationForm.text),
    "issuer": Spec(text(128), default=""),
    "published_on": Spec(date),
    "media_url": Spec(http_url),
}


def convert_fields(
    meta: dict[str, Any],
    specs: dict[str, Spec],
    report: Callable[[str, str], None],
    warn: Callable[[str, str], None] | None = None,
) -> dict[str, Any] | None:
    """Run each field through its converter; ``report(key, message)`` for each problem.

    Also used by the admin API, so files and API drafts obey the same rules. An
    unknown field is refused, unless ``warn`` is given: content files then load
    without it (a field from a newer contract must not take a policy offline).
    """
    ok = True
    values: dict[str, Any] = {}
    for key in meta:
        if key not in specs:
            if warn is not None:
                warn(str(key), f"未知字段 '{key}'，已忽略")
                continue
            report(str(key), f"未知字段 '{key}'")
            ok = False
    for key, spec in specs.items():
        raw = meta.get(key)
        if raw is None or raw == "" or raw == []:
            if spec.required:
                report(key, f"缺少必填字段 '{key}'")
                ok = False
            values[key] = list(spec.default) if isinstance(spec.default, list) else spec.default
            continue
        try:
            values[key] = spec.convert(raw)
        except FieldError as exc:  # a nested value's error says where (eligibility.all.1.age)
            where = ".".join(map(str, (key, *getattr(exc, "path", ()))))
            report(where, f"{key}: {exc}")
            ok = False
    return values if ok else None


# --- publishing (bot.catalog.publishing): checks across fields -----------------------------


def date_order_problems(values: dict[str, Any]) -> list[str]:
    """Dates that cannot be: published or expiring before the document was written."""
    written = values.get("written_on")
    problems = []
    for key, what in (("published_on", "发布日期"), ("expires_on", "失效日期")):
        day = values.get(key)
        if written and day and day < written:
            problems.append(f"{key}: {what} {day.isoformat()} 早于成文日期 {written.isoformat()}")
    return problems


# --- the admin API's request bodies (bot.web.openapi): described by the same converters ---

ident.json_schema = {"type": "string", "pattern": ID_RE.pattern, "maxLength": 80}  # type: ignore[attr-defined]
date.json_schema = {"type": "string", "format": "date"}  # type: ignore[attr-defined]
boolean.json_schema = {"type": "boolean"}  # type: ignore[attr-defined]
http_url.json_schema = {"type": "string", "format": "uri", "maxLength": 512}  # type: ignore[attr-defined]


def json_schema(specs: dict[str, Spec], **extra: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema object for a table of fields (plus ``extra`` properties)."""
    properties = {key: dict(spec.convert.json_schema) for key, spec in specs.items()}  # type: ignore[attr-defined]
    for key, spec in specs.items():
        if spec.default not in (None, [], ""):
            default = spec.default
            properties[key]["default"] = default.value if isinstance(default, StrEnum) else default
    return {
        "type": "object",
        "properties": {**properties, **extra},
        "required": [key for key, spec in specs.items() if spec.required],
        "additionalProperties": False,
    }
