"""Reads ``content/`` into validated, typed documents, without touching the database.

In the manner of Pelican's readers: the front matter is parsed by
python-frontmatter, then each field goes through its own converter. A file
that fails is reported as ``path:line: message`` and skipped; it never stops
the other files from loading. Rules that span files (an interpretation's
policy, area names, topic ids, ``replaced_by``, ``requires_interpretation``)
run once every file has been read.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import frontmatter
import yaml

from bot.catalog.fields import (
    FieldError,
    Problem,
    Spec,
    convert_fields,
    coordinates,
    date,
    ident,
    positive_number,
    str_list,
    text,
)
from bot.catalog.kinds import Kind, all_kinds
from bot.catalog.kinds import kind as kind_of
from bot.catalog.models import Disclosure, InterpretationForm, Validity
from bot.catalog.render import RENDER_VERSION

HOLIDAYS_FILE = "holidays.yaml"
CSV_HEADER = [
    "序号",
    "一级事项",
    "二级事项",
    "公开内容",
    "公开依据",
    "公开时限",
    "公开主体",
    "公开渠道和载体",
    "公开对象",
    "公开方式",
    "领域",
]
# Other names of the area column in catalogs written elsewhere.
CSV_AREA_COLUMNS = ("领域", "所属领域", "试点领域", "公开领域")
# The spellings standard catalogs use, each mapped to the value stored.
CSV_AUDIENCES = {
    "全社会": "全社会",
    "社会公众": "全社会",
    "公众": "全社会",
    "特定群体": "特定群体",
    "特定对象": "特定群体",
    "特定人群": "特定群体",
}
CSV_METHODS = {"主动": "主动", "主动公开": "主动", "依申请": "依申请", "依申请公开": "依申请"}
MENU_TYPES = {
    "click",
    "view",
    "scancode_push",
    "scancode_waitmsg",
    "pic_sysphoto",
    "pic_photo_or_album",
    "pic_weixin",
    "location_select",
    "miniprogram",
}


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe YAML that leaves dates as text: YAML's own date parsing crashes on 2024-02-30,
    and our ``date`` converter reports it with the file and line instead."""


_Loader.add_constructor(
    "tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node)
)
_YAML_LOADER: Any = _Loader
_FM = frontmatter.YAMLHandler()
_KEY_RE = re.compile(r"^([A-Za-z_][\w-]*)\s*:")


def _nested_lines(fm: str, top: str) -> dict[str, int]:
    """Lines of the keys and list items under ``top``, as dotted paths (``top.all.1.age``),
    so a problem deep inside a structured field points at its own line."""
    out: dict[str, int] = {}

    def walk(node: yaml.Node, path: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                here = f"{path}.{key.value}"
                out[here] = key.start_mark.line + 1  # fm's line n is the file's line n + 1
                walk(value, here)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                out[f"{path}.{i}"] = item.start_mark.line + 1
                walk(item, f"{path}.{i}")

    root = yaml.compose(fm, Loader=_YAML_LOADER)
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == top:
                walk(value, top)
    return out


def file_hash(rel: str, raw: bytes) -> str:
    """A Markdown file's identity: its path and exact bytes, and how it is rendered."""
    return hashlib.sha256(f"{rel}\0{RENDER_VERSION}\0".encode() + raw).hexdigest()


def checked_hash(digest: str) -> str:
    """What sync stores as ``content_hash`` for a file that loaded without any problem:
    only such a file may be skipped next time. A row holding the plain ``file_hash``
    (a file with warnings, or stored before skipping existed) is read again in full,
    so its problems are reported again, but it is not rewritten."""
    return hashlib.sha256(b"checked\0" + digest.encode()).hexdigest()


Named = tuple[str, str, list[str]]  # (id, name, aliases)


def context_key(areas: Iterable[Named], topics: Iterable[Named], regions: Iterable[str]) -> str:
    """What a document's checks read besides its own file: areas and topics (names and
    aliases resolve ``areas:`` and ``topics:``) and region names (eligibility towns)."""
    key = [
        sorted([key, name, sorted(aliases)] for key, name, aliases in areas),
        sorted([key, name, sorted(aliases)] for key, name, aliases in topics),
        sorted(regions),
    ]
    return hashlib.sha256(json.dumps(key, ensure_ascii=False).encode()).hexdigest()


# ---------------------------------------------------------------- results


@dataclass
class PolicyDoc:
    id: str
    title: str
    issuer: str
    written_on: dt.date
    published_on: dt.date | None
    doc_number: str | None
    index_number: str | None
    areas: list[str]  # area names
    topics: list[str]  # topic ids
    keywords: list[str]
    summary: str
    validity: Validity
    expires_on: dt.date | None
    replaced_by: str | None
    disclosure: Disclosure
    requires_interpretation: bool
    attachments: list[dict[str, str]]  # [{file, title}] under content/attachments/
    eligibility: dict[str, Any] | None
    body_md: str
    source_path: str  # relative to the content folder, with forward slashes
    content_hash: str
    lines: dict[str, int] = field(default_factory=dict, repr=False)


@dataclass
class InterpretationDoc:
    id: str
    title: str
    policy: str
    form: InterpretationForm
    issuer: str
    published_on: dt.date | None
    media_url: str | None
    body_md: str
    source_path: str
    content_hash: str
    lines: dict[str, int] = field(default_factory=dict, repr=False)


@dataclass
class AreaDoc:
    id: str
    name: str
    aliases: list[str]
    position: int


@dataclass
class TopicDoc:
    id: str
    name: str
    aliases: list[str]
    areas: list[str]  # area ids
    position: int


@dataclass
class RegionDoc:
    name: str
    aliases: list[str]
    center: tuple[float, float] | None = None  # [纬度, 经度] of the town's seat
    radius_km: float = 5.0  # a location this close to ``center`` is in the town


@dataclass
class CatalogRow:
    area: str
    seq: str
    level1: str
    level2: str
    content: str
    basis: str
    time_limit: str
    subject: str
    channel: str
    audience: str
    method: str
    source_path: str
    source_line: int


@dataclass
class Holidays:
    """Dates from holidays.yaml, for years chinese_calendar does not cover yet."""

    holidays: frozenset[dt.date] = frozenset()
    workdays: frozenset[dt.date] = frozenset()


@dataclass
class Unchanged:
    """A Markdown file whose exact bytes the database holds, imported without any problem
    under the same areas, topics and regions: ``content sync`` neither parses nor renders
    it again. Its row supplies the fields the rules across files read (``Kind.cross_file``)."""

    id: str
    source_path: str
    content_hash: str  # the file's hash (``file_hash``), as for a parsed document
    refs: dict[str, Any]  # front-matter field → value, e.g. {"policy": "qzb-…"}
    lines: dict[str, int] = field(default_factory=dict, repr=False)  # unknown: line 1

    def __post_init__(self) -> None:
        self.__dict__.update(self.refs)  # read as a parsed document's are: doc.policy


class KnownRow(NamedTuple):
    id: str
    content_hash: str  # as stored: ``checked_hash`` of the file it was imported from
    refs: dict[str, Any]  # ``Kind.cross_file`` fields from its columns


@dataclass
class Known:
    """What sync's database holds of the files it imported cleanly: kind → path → row, and
    the ``context_key`` they were checked under. ``content check`` never passes one."""

    files: dict[str, dict[str, KnownRow]]
    context: str


@dataclass
class Content:
    """Everything valid in one content folder, plus every problem found."""

    root: Path
    areas: list[AreaDoc] = field(default_factory=list)
    topics: list[TopicDoc] = field(default_factory=list)
    regions: list[RegionDoc] = field(default_factory=list)
    documents: dict[str, list[Any]] = field(default_factory=dict)  # kind name → Markdown docs
    catalog: list[CatalogRow] = field(default_factory=list)
    catalog_files: set[str] = field(default_factory=set)  # CSVs read (even partly)
    menu: dict[str, Any] | None = None
    holidays: Holidays = field(default_factory=Holidays)
    synonyms: list[list[str]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # Files present but rejected: the database keeps their previous version.
    failed_paths: set[str] = field(default_factory=set)
    problem_paths: set[str] = field(default_factory=set)  # files with any problem, even a warning
    # Markdown file → (``file_hash``, ``checked_hash``): what its row holds when unchanged
    file_hashes: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def policies(self) -> list[PolicyDoc]:
        return self.documents.setdefault("policy", [])

    @property
    def interpretations(self) -> list[InterpretationDoc]:
        return self.documents.setdefault("interpretation", [])


# ---------------------------------------------------------------- reading files


class Reader:
    """Collects problems for one content folder while its files are read."""

    def __init__(self, root: Path, display_root: str) -> None:
        self.root = root
        self.display_root = display_root
        self.content = Content(root=root)

    def shown(self, rel: str) -> str:
        return f"{self.display_root}/{rel}" if self.display_root else rel

    def problem(self, rel: str, line: int, message: str, severity: str = "error") -> None:
        self.content.problems.append(Problem(self.shown(rel), line, message, severity))  # type: ignore[arg-type]
        self.content.problem_paths.add(rel)

    def fail(self, rel: str, line: int, message: str) -> None:
        self.problem(rel, line, message)
        self.content.failed_paths.add(rel)

    def read_bytes(self, rel: str) -> bytes | None:
        try:  # os.read: no file object per file (sync reads 100,000 of them each time)
            fd = os.open(f"{self.root}/{rel}", os.O_RDONLY)
            try:
                chunks = []
                while chunk := os.read(fd, 1 << 20):
                    chunks.append(chunk)
                return b"".join(chunks)
            finally:
                os.close(fd)
        except OSError as exc:
            self.fail(rel, 0, f"无法读取：{exc.strerror}")
            return None

    def read_text(self, rel: str, raw: bytes | None = None) -> tuple[str, bytes] | None:
        if raw is None and (raw := self.read_bytes(rel)) is None:
            return None
        try:
            return raw.decode("utf-8-sig"), raw
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            self.fail(rel, 1, "是 UTF-16 编码（Excel“Unicode 文本”），请另存为 UTF-8")
            return None
        try:  # what Excel on Chinese Windows saves as "CSV (逗号分隔)"
            decoded = raw.decode("gb18030")
        except UnicodeDecodeError:
            self.fail(rel, line, "不是 UTF-8 编码（请另存为 UTF-8）")
            return None
        self.problem(rel, line, "不是 UTF-8 编码，已按 GB18030 读取（建议另存为 UTF-8）", "warning")
        return decoded, raw

    # ---- Markdown with front matter

    def front_matter(
        self, rel: str, raw: bytes | None = None
    ) -> tuple[dict[str, Any], str, dict[str, int], str] | None:
        read = self.read_text(rel, raw)
        if read is None:
            return None
        text_, raw = read
        if not _FM.detect(text_):
            self.fail(rel, 1, "缺少 YAML 文件头（文件应以 --- 开始）")
            return None
        try:
            fm, body = _FM.split(text_)
        except ValueError:
            self.fail(rel, 1, "文件头没有结束的 ---")
            return None
        try:
            meta = _FM.load(fm, Loader=_YAML_LOADER)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else 1
            reason = getattr(exc, "problem", None) or "无法解析"
            self.fail(rel, line, f"文件头不是有效的 YAML：{reason}")
            return None
        if meta is None:
            meta = {}
        if not isinstance(meta, dict):
            self.fail(rel, 2, "文件头应为“字段: 值”的形式")
            return None
        # fm starts with the remainder of line 1 ("---"), so its n-th line is line n+1.
        lines: dict[str, int] = {}
        for number, line in enumerate(fm.split("\n"), start=1):
            found = _KEY_RE.match(line)
            if found:
                lines.setdefault(found.group(1), number)
        if isinstance(meta.get("eligibility"), dict):
            lines.update(_nested_lines(fm, "eligibility"))
        return meta, body.strip("\n"), lines, file_hash(rel, raw)

    def fields(
        self, rel: str, meta: dict[str, Any], lines: dict[str, int], specs: dict[str, Spec]
    ) -> dict[str, Any] | None:
        def report(key: str, message: str) -> None:  # key may be a nested path: a.all.1.age
            self.problem(rel, lines.get(key) or lines.get(key.split(".")[0], 1), message)

        def warn(key: str, message: str) -> None:
            self.problem(rel, lines.get(key, 1), message, "warning")

        values = convert_fields(meta, specs, report, warn)
        if values is None:
            self.content.failed_paths.add(rel)
        return values

    def document(self, rel: str, kind: Kind, raw: bytes | None = None) -> Any | None:
        """One Markdown file of a kind: its fields converted, then the kind's own ``check``."""
        parsed = self.front_matter(rel, raw)
        if parsed is None or kind.document is None:
            return None
        meta, body, lines, digest = parsed
        values = self.fields(rel, meta, lines, kind.fields)
        if values is None:
            return None
        doc = kind.document(
            **values, body_md=body, source_path=rel, content_hash=digest, lines=lines
        )
        return doc if kind.check is None or kind.check(self, doc) else None

    # ---- YAML lists and mappings

    def yaml_file(self, rel: str) -> tuple[Any, yaml.Node | None] | None:
        if not (self.root / rel).is_file():
            return None
        read = self.read_text(rel)
        if read is None:
            return None
        loader = _YAML_LOADER(read[0])
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            reason = getattr(exc, "problem", None) or "无法解析"
            self.fail(rel, mark.line + 1 if mark else 1, f"不是有效的 YAML：{reason}")
            return None
        finally:
            loader.dispose()
        return data, node

    def yaml_items(self, rel: str) -> list[tuple[int, dict[str, Any], dict[str, int]]]:
        """Items of a top-level YAML list, with their line and their keys' lines."""
        loaded = self.yaml_file(rel)
        if loaded is None:
            return []
        data, node = loaded
        if data is None:
            return []
        if not isinstance(data, list) or node is None:
            self.fail(rel, 1, "应为列表（每项以 - 开始）")
            return []
        out = []
        for item, item_node in zip(data, node.value, strict=True):
            line = item_node.start_mark.line + 1
            if not isinstance(item, dict):
                self.problem(rel, line, "每项应为“字段: 值”的形式")
                continue
            keys = {k.value: k.start_mark.line + 1 for k, _ in item_node.value}
            out.append((line, item, keys))
        return out


def _item_fields(
    reader: Reader,
    rel: str,
    line: int,
    item: dict[str, Any],
    keys: dict[str, int],
    specs: dict[str, Spec],
) -> dict[str, Any] | None:
    def report(key: str, message: str) -> None:
        reader.problem(rel, keys.get(key, line), message)

    return convert_fields(item, specs, report)


AREA_FIELDS = {
    "id": Spec(ident),  # optional: derived from the name (``area_id``)
    "name": Spec(text(64), required=True),
    "aliases": Spec(str_list(), default=[]),
}
TOPIC_FIELDS = {
    "id": Spec(ident, required=True),
    "name": Spec(text(30), required=True),
    "aliases": Spec(str_list(), default=[]),
    "areas": Spec(str_list(), default=[]),
}
REGION_FIELDS = {
    "name": Spec(text(64), required=True),
    "aliases": Spec(str_list(), default=[]),
    "center": Spec(coordinates),
    "radius_km": Spec(positive_number, default=5.0),
}


def area_id(name: str) -> str:
    """The stable id of an area written without one: its name in toneless pinyin,
    syllables joined by hyphens (``社会救助`` → ``she-hui-jiu-zhu``), cut to 64
    characters with a hash of the name when longer. It changes only if the name does.
    pypinyin is imported here, not at the top: it costs about 50 MB per process,
    and only content import of an area without an id needs it."""
    from pypinyin import lazy_pinyin

    syllables = (re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-") for s in lazy_pinyin(name))
    slug = "-".join(s for s in syllables if s)
    if not slug or len(slug) > 64:
        digest = hashlib.sha1(name.encode()).hexdigest()[:8]
        slug = f"{slug[:55].rstrip('-')}-{digest}".strip("-")
    return slug


def _read_areas(reader: Reader) -> None:
    rel = "areas.yaml"
    if not (reader.root / rel).is_file():
        reader.problem(rel, 0, "缺少 areas.yaml（26 个试点领域）")
        return
    seen_ids: set[str] = set()
    seen_names: set[str] = set()
    for position, (line, item, keys) in enumerate(reader.yaml_items(rel)):
        values = _item_fields(reader, rel, line, item, keys, AREA_FIELDS)
        if values is None:
            continue
        if values["name"] in seen_names or values["id"] in seen_ids:
            shown = f"'{values['id']}'（{values['name']}）" if values["id"] else values["name"]
            reader.problem(rel, line, f"领域 {shown} 重复")
            continue
        if not values["id"]:
            values["id"] = area_id(values["name"])
            if values["id"] in seen_ids:  # two names with the same pinyin (就业, 旧业)
                digest = hashlib.sha1(values["name"].encode()).hexdigest()[:8]
                values["id"] = f"{values['id'][:55]}-{digest}"
        seen_ids.add(values["id"])
        seen_names.add(values["name"])
        reader.content.areas.append(AreaDoc(position=position, **values))


def _lookup(entries: Iterable[tuple[str, str, list[str]]]) -> dict[str, str]:
    """(key, name, aliases) → a map from each key, name and unambiguous alias to the key."""
    entries = list(entries)
    found: dict[str, str] = {}
    for key, name, _ in entries:
        found[key] = found[name] = key
    by_alias: dict[str, set[str]] = {}
    for key, _, aliases in entries:
        for alias in aliases:
            by_alias.setdefault(alias, set()).add(key)
    for alias, keys in by_alias.items():
        if len(keys) == 1 and alias not in found:
            found[alias] = next(iter(keys))
    return found


def _resolve(
    reader: Reader, rel: str, line: int, values: list[str], known: dict[str, str], what: str
) -> list[str]:
    """Values mapped through ``known``; an unknown one is a warning and left out."""
    unknown = [v for v in values if v not in known]
    if unknown:
        reader.problem(rel, line, f"{what}{'、'.join(unknown)}，已忽略", "warning")
    return list(dict.fromkeys(known[v] for v in values if v in known))


def _read_topics(reader: Reader) -> None:
    rel = "topics.yaml"
    area_ids = _lookup((a.id, a.name, a.aliases) for a in reader.content.areas)
    seen: set[str] = set()
    for position, (line, item, keys) in enumerate(reader.yaml_items(rel)):
        values = _item_fields(reader, rel, line, item, keys, TOPIC_FIELDS)
        if values is None:
            continue
        if values["id"] in seen or values["name"] in seen:
            reader.problem(rel, line, f"主题 '{values['id']}'（{values['name']}）重复")
            continue
        values["areas"] = _resolve(
            reader, rel, keys.get("areas", line), values["areas"], area_ids, _NO_AREA
        )
        seen.update((values["id"], values["name"]))
        reader.content.topics.append(TopicDoc(position=position, **values))


def _read_regions(reader: Reader) -> None:
    rel = "regions.yaml"
    seen: set[str] = set()
    for line, item, keys in reader.yaml_items(rel):
        values = _item_fields(reader, rel, line, item, keys, REGION_FIELDS)
        if values is None:
            continue
        if values["name"] in seen:
            reader.problem(rel, line, f"镇街 '{values['name']}' 重复")
            continue
        seen.add(values["name"])
        reader.content.regions.append(RegionDoc(**values))


def _read_holidays(reader: Reader) -> None:
    rel = HOLIDAYS_FILE
    loaded = reader.yaml_file(rel)
    if loaded is None or loaded[0] is None:
        return
    data, node = loaded
    if not isinstance(data, dict) or node is None:
        reader.fail(rel, 1, "应包含 holidays: 和 workdays: 两个日期列表")
        return
    found: dict[str, set[dt.date]] = {"holidays": set(), "workdays": set()}
    for key_node, value_node in node.value:
        key = key_node.value
        if key not in found:
            reader.problem(rel, key_node.start_mark.line + 1, f"未知字段 '{key}'")
            continue
        values = data.get(key) or []
        if not isinstance(values, list):
            reader.problem(rel, key_node.start_mark.line + 1, f"{key}: 应为日期列表")
            continue
        for item, item_node in zip(values, value_node.value, strict=True):
            try:
                found[key].add(date(item))
            except FieldError as exc:
                reader.problem(rel, item_node.start_mark.line + 1, f"{key}: {exc}")
    both = found["holidays"] & found["workdays"]
    for day in sorted(both):
        reader.problem(rel, 1, f"{day} 同时出现在 holidays 和 workdays 中")
    reader.content.holidays = Holidays(
        frozenset(found["holidays"] - both), frozenset(found["workdays"] - both)
    )


def _width(name: str) -> int:
    """Menu names are limited in bytes by WeChat: a Chinese character counts as two."""
    return sum(2 if ord(ch) > 127 else 1 for ch in name)


def _read_menu(reader: Reader) -> None:
    rel = "menu.yaml"
    loaded = reader.yaml_file(rel)
    if loaded is None or loaded[0] is None:
        return
    data, node = loaded
    if not isinstance(data, dict) or not isinstance(data.get("button"), list) or node is None:
        reader.fail(rel, 1, "应以 button: 列表开始")
        return
    button_node = next(v for k, v in node.value if k.value == "button")
    problems_before = len(reader.content.errors)
    keys_seen: set[str] = set()

    def check(item: Any, item_node: yaml.Node, top: bool) -> None:
        line = item_node.start_mark.line + 1
        if not isinstance(item, dict):
            reader.problem(rel, line, "菜单项应为“字段: 值”的形式")
            return
        name = item.get("name")
        limit = 8 if top else 16
        if not isinstance(name, str) or not name.strip():
            reader.problem(rel, line, "菜单项缺少 name")
        elif _width(name) > limit:
            reader.problem(rel, line, f"name: '{name}' 过长（最多 {limit // 2} 个汉字）")
        subs = item.get("sub_button")
        if subs is not None:
            if not top:
                reader.problem(rel, line, "二级菜单不能再有 sub_button")
                return
            sub_nodes = next(v for k, v in item_node.value if k.value == "sub_button")
            if not isinstance(subs, list) or not 1 <= len(subs) <= 5:
                reader.problem(rel, line, "sub_button: 应有 1 至 5 个二级菜单")
                return
            for sub, sub_node in zip(subs, sub_nodes.value, strict=True):
                check(sub, sub_node, top=False)
            return
        kind = item.get("type")
        if kind not in MENU_TYPES:
            reader.problem(rel, line, f"type: '{kind}' 不是微信菜单类型（如 click、view）")
            return
        if kind == "view":
            url = str(item.get("url") or "")
            if not re.match(r"^(https?://|\{base_url\})", url):
                reader.problem(rel, line, "url: view 菜单需要 http(s) 网址或以 {base_url} 开头")
            return
        key = item.get("key")
        if not isinstance(key, str) or not key or len(key.encode()) > 128:
            reader.problem(rel, line, "key: 缺少菜单事件 KEY（不超过 128 字节）")
        elif key in keys_seen:
            reader.problem(rel, line, f"key: '{key}' 重复")
        else:
            keys_seen.add(key)
        if kind == "click":
            reply = item.get("reply")
            good = (isinstance(reply, str) and reply.strip()) or (
                isinstance(reply, dict)
                and len(reply) == 1
                and set(reply) <= {"search", "command"}
                and isinstance(next(iter(reply.values())), str)
                and next(iter(reply.values())).strip()
            )
            if not good:
                reader.problem(
                    rel, line, "reply: 应为一段文字、{search: 关键词} 或 {command: 指令}"
                )

    if not 1 <= len(data["button"]) <= 3:
        reader.problem(rel, button_node.start_mark.line + 1, "button: 应有 1 至 3 个一级菜单")
    for item, item_node in zip(data["button"], button_node.value, strict=True):
        check(item, item_node, top=True)
    if len(reader.content.errors) == problems_before:
        reader.content.menu = data
    else:
        reader.content.failed_paths.add(rel)


def _read_synonyms(reader: Reader) -> None:
    rel = "synonyms.txt"
    if not (reader.root / rel).is_file():
        return
    read = reader.read_text(rel)
    if read is None:
        return
    for number, line in enumerate(read[0].splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        terms = line.split()
        if len(terms) < 2:
            reader.problem(rel, number, f"'{terms[0]}' 没有同义词（每行至少两个词）", "warning")
            continue
        reader.content.synonyms.append(terms)


def read_catalogs(reader: Reader) -> None:
    """Every ``catalog/*.csv`` (the catalog-item kind's reader)."""
    for rel in _files(reader.root, "catalog", "*.csv"):
        _read_catalog(reader, rel)


def _read_catalog(reader: Reader, rel: str) -> None:
    read = reader.read_text(rel)
    if read is None:
        return
    areas = _lookup((a.name, a.name, [a.id, *a.aliases]) for a in reader.content.areas)
    rows = csv.reader(io.StringIO(read[0], newline=""))
    try:
        header = _trim([h.strip() for h in next(rows)])
    except StopIteration:
        reader.fail(rel, 1, "文件为空")
        return
    column = _catalog_columns(header)
    if column is None:
        reader.fail(rel, 1, "表头应为：" + ",".join(CSV_HEADER))
        return
    reader.content.catalog_files.add(rel)
    line = rows.line_num + 1
    seen: dict[tuple[str, str, str], int] = {}
    try:
        for row in rows:
            start, line = line, rows.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(header):  # Excel keeps empty cells right of the table
                row = row[: len(header)] if not any(c.strip() for c in row[len(header) :]) else row
            if len(row) != len(header):
                reader.problem(rel, start, f"应有 {len(header)} 列，实有 {len(row)} 列")
                continue
            cells = [row[i].strip() for i in column]
            seq, level1, level2, content_, basis, limit, subject, channel, who, how, area = cells
            if area not in areas:
                reader.problem(rel, start, f"领域: areas.yaml 中没有 '{area}'", "warning")
            if not level1:
                reader.problem(rel, start, "一级事项不能为空")
            elif who not in CSV_AUDIENCES:
                reader.problem(rel, start, f"公开对象: '{who}' 应为 全社会 或 特定群体")
            elif how not in CSV_METHODS:
                reader.problem(rel, start, f"公开方式: '{how}' 应为 主动（公开）或 依申请（公开）")
            elif max(len(level1), len(seq) * 8) > 128 or len(level2) > 255:
                reader.problem(rel, start, "序号或事项名称过长")
            elif (seq, level1, level2) in seen:
                reader.problem(
                    rel,
                    start,
                    f"与第 {seen[seq, level1, level2]} 行重复（序号、一级、二级事项相同）",
                )
            else:
                seen[seq, level1, level2] = start
                reader.content.catalog.append(
                    CatalogRow(
                        areas.get(area, area),
                        seq,
                        level1,
                        level2,
                        content_,
                        basis,
                        limit[:255],
                        subject[:255],
                        channel[:255],
                        CSV_AUDIENCES[who],
                        CSV_METHODS[how],
                        rel,
                        start,
                    )
                )
    except csv.Error as exc:
        reader.problem(rel, line, f"CSV 格式错误：{exc}")


def _trim(cells: list[str]) -> list[str]:
    """Without the empty cells at the end (Excel writes them for formatted columns)."""
    while cells and not cells[-1]:
        cells.pop()
    return cells


def _catalog_columns(header: list[str]) -> list[int] | None:
    """Where each column of ``CSV_HEADER`` is in a file's header (any order; the area
    column under any name in ``CSV_AREA_COLUMNS``), or None when one is missing."""
    at = {name: i for i, name in enumerate(header)}
    area = next((at[n] for n in CSV_AREA_COLUMNS if n in at), None)
    wanted = [at.get(name) for name in CSV_HEADER[:-1]] + [area]
    return None if None in wanted else [i for i in wanted if i is not None]


def _files(root: Path, folder: str, pattern: str) -> Iterable[str]:
    base = root / folder
    if not base.is_dir():
        return []
    if pattern.startswith("*") and "*" not in pattern[1:]:  # scandir: 100,000 files in a blink
        with os.scandir(base) as entries:
            found = [e.name for e in entries if e.name.endswith(pattern[1:]) and e.is_file()]
        return sorted(f"{folder}/{name}" for name in found)
    return sorted(p.relative_to(root).as_posix() for p in base.glob(pattern) if p.is_file())


_NO_AREA = "areas: areas.yaml 中没有领域 "
_NO_TOPIC = "topics: topics.yaml 中没有主题 "


def _cross_check(reader: Reader) -> None:
    """Rules that need every file: duplicates, references, the 三同步 pairing."""
    content = reader.content

    def drop(doc: Any, key: str, message: str) -> None:
        reader.fail(doc.source_path, doc.lines.get(key, 1), message)

    every_id: dict[str, set[str]] = {}
    for kind in all_kinds():
        if kind.folder is None:
            continue
        unique: dict[str, Any] = {}
        for doc in content.documents.get(kind.name, []):
            if doc.id in unique:
                drop(doc, "id", f"id '{doc.id}' 与 {reader.shown(unique[doc.id].source_path)} 重复")
            else:
                unique[doc.id] = doc
        every_id[kind.name] = set(unique)
        content.documents[kind.name] = list(unique.values())
        if kind.name == "policy":
            _policy_references(reader, every_id["policy"])
        if kind.parent and kind.parent_key:
            parents = {d.id for d in content.documents.get(kind.parent, [])}
            kept = []
            for doc in content.documents[kind.name]:
                wanted = getattr(doc, kind.parent_key)
                if wanted in parents:
                    kept.append(doc)
                    continue
                why = "未通过检查" if wanted in every_id.get(kind.parent, ()) else "不存在"
                label = kind_of(kind.parent).label
                message = f"{kind.parent_key}: {label} '{wanted}' {why}，本{kind.label}未导入"
                drop(doc, kind.parent_key, message)
            content.documents[kind.name] = kept
    _pairing(reader)


def _policy_references(reader: Reader, every_policy_id: set[str]) -> None:
    """Areas and topics (unknown ones are warnings: the policy is published without
    that link) and ``replaced_by`` (an error)."""
    content = reader.content
    area_names = _lookup((a.name, a.name, [a.id, *a.aliases]) for a in content.areas)
    topic_ids = _lookup((t.id, t.name, t.aliases) for t in content.topics)
    kept = []
    for doc in content.policies:
        if not isinstance(doc, Unchanged):  # else resolved on import, against the same lists
            line = doc.lines.get("areas", 1)
            doc.areas = _resolve(reader, doc.source_path, line, doc.areas, area_names, _NO_AREA)
            line = doc.lines.get("topics", 1)
            doc.topics = _resolve(reader, doc.source_path, line, doc.topics, topic_ids, _NO_TOPIC)
        if doc.replaced_by and doc.replaced_by not in every_policy_id:
            line = doc.lines.get("replaced_by", 1)
            reader.fail(doc.source_path, line, f"replaced_by: 找不到政策 '{doc.replaced_by}'")
            continue
        kept.append(doc)
    content.documents["policy"] = kept


def _pairing(reader: Reader) -> None:
    """三同步: a policy that requires an interpretation is published only with one."""
    content = reader.content
    paired = {i.policy for i in content.interpretations}
    kept = []
    for doc in content.policies:
        if doc.requires_interpretation and doc.id not in paired:
            reader.fail(
                doc.source_path,
                doc.lines.get("requires_interpretation", 1),
                "requires_interpretation: 该政策须与解读同步发布，但没有找到有效的解读",
            )
            continue
        kept.append(doc)
    content.documents["policy"] = kept


def _context(content: Content) -> str:
    return context_key(
        ((a.id, a.name, a.aliases) for a in content.areas),
        ((t.id, t.name, t.aliases) for t in content.topics),
        (r.name for r in content.regions),
    )


def _read_documents(
    reader: Reader, kind: Kind, known: dict[str, KnownRow], parsed: Parsed | None
) -> list[Any]:
    """A Markdown kind's files in path order; one whose row in ``known`` has its hash is
    taken from there instead of being parsed."""
    docs = []
    for rel in _files(reader.root, kind.folder or "", "*.md"):
        if (raw := reader.read_bytes(rel)) is None:
            continue
        digest = file_hash(rel, raw)
        reader.content.file_hashes[rel] = digest, checked_hash(digest)
        row = known.get(rel)
        if row is not None and row.content_hash == reader.content.file_hashes[rel][1]:
            docs.append(Unchanged(row.id, rel, digest, row.refs))
        elif (doc := reader.document(rel, kind, raw)) is not None:
            docs.append(doc)
            if parsed is not None:
                parsed(doc)
    return docs


def _unchanged_at_risk(reader: Reader) -> set[str]:
    """Unchanged files a rule across files might now reject (a duplicate id, a missing
    ``replaced_by`` or parent, a lost pairing) or whose ``Kind.recheck`` fails: they
    are read in full, so that ``_cross_check`` judges and reports them as it always did.

    An unchanged file stays skipped only if everything it leans on is unchanged too."""
    content = reader.content
    risky: set[str] = set()
    for name, docs in content.documents.items():
        recheck = kind_of(name).recheck
        count = Counter(d.id for d in docs)
        risky |= {
            d.source_path
            for d in docs
            if isinstance(d, Unchanged)
            and (count[d.id] > 1 or (recheck is not None and not recheck(reader, d)))
        }
    policy_ids = {d.id for d in content.policies}
    for doc in content.policies:
        replaced_by = doc.refs["replaced_by"] if isinstance(doc, Unchanged) else None
        if replaced_by and replaced_by not in policy_ids:
            risky.add(doc.source_path)
    while True:  # parents and children keep each other: what is left is safe together
        safe = {k: _safe(content.documents.get(k, []), risky) for k in content.documents}
        more = set(risky)
        for kind in all_kinds():
            if kind.folder and kind.parent and kind.parent_key:
                more |= {
                    doc.source_path
                    for doc in safe.get(kind.name, {}).values()
                    if doc.refs[kind.parent_key] not in safe.get(kind.parent, {})
                }
        paired = {i.refs["policy"] for i in safe.get("interpretation", {}).values()}
        more |= {
            doc.source_path
            for doc in safe.get("policy", {}).values()
            if doc.refs["requires_interpretation"] and doc.id not in paired
        }
        if more == risky:
            return risky
        risky = more


def _safe(docs: list[Any], risky: set[str]) -> dict[str, Unchanged]:
    return {d.id: d for d in docs if isinstance(d, Unchanged) and d.source_path not in risky}


def _read_risky(reader: Reader) -> None:
    """Replace unchanged files at risk by their full reading, until none is left."""
    while risky := _unchanged_at_risk(reader):
        for kind in all_kinds():
            docs = reader.content.documents.get(kind.name, [])
            read = [
                reader.document(d.source_path, kind) if d.source_path in risky else d for d in docs
            ]
            reader.content.documents[kind.name] = [d for d in read if d is not None]


Parsed = Callable[[Any], None]


def load_content(
    root: Path | str,
    *,
    display_root: str | None = None,
    known: Known | None = None,
    parsed: Parsed | None = None,
) -> Content:
    """Read and validate a content folder; never raises for bad content.

    ``display_root`` is how paths are shown in problems (default: ``root`` as given).
    With ``known`` (``content sync``), files the database already holds, checked clean,
    are not parsed again when the areas, topics and regions they were checked with are
    unchanged and no other file's change concerns them. ``parsed`` is called with each
    Markdown document parsed, as soon as it is (sync starts rendering it meanwhile).
    """
    root = Path(root)
    shown = display_root if display_root is not None else str(root).rstrip("/")
    reader = Reader(root, "" if shown == "." else shown)
    if not root.is_dir():
        reader.content.problems.append(Problem(shown, 0, "内容目录不存在"))
        return reader.content
    _read_areas(reader)
    _read_topics(reader)
    _read_regions(reader)
    _read_holidays(reader)
    _read_menu(reader)
    _read_synonyms(reader)
    content = reader.content
    if known is not None and known.context != _context(content):
        known = None  # the rules changed under every file: check them all
    for kind in all_kinds():
        if kind.read is not None:
            kind.read(reader)
        if kind.folder is not None:
            files = known.files.get(kind.name, {}) if known is not None else {}
            content.documents[kind.name] = _read_documents(reader, kind, files, parsed)
    _read_risky(reader)
    _cross_check(reader)
    reader.content.problems.sort(key=lambda p: (p.path, p.line))
    return reader.content


def load_menu(root: Path | str) -> tuple[dict[str, Any] | None, list[Problem]]:
    """Only menu.yaml (``policybot menu push``): the menu when valid, and its problems."""
    reader = Reader(Path(root), str(root).rstrip("/"))
    _read_menu(reader)
    return reader.content.menu, reader.content.problems
