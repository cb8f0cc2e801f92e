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
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import frontmatter
import yaml

from bot.catalog.attachments import CONTENT_FOLDER as ATTACHMENTS
from bot.catalog.attachments import read_type
from bot.catalog.fields import (
    INTERPRETATION_FIELDS,
    POLICY_FIELDS,
    FieldError,
    Problem,
    Spec,
    convert_fields,
    date,
    ident,
    str_list,
    text,
)
from bot.catalog.models import Disclosure, InterpretationForm, Validity
from bot.catalog.render import RENDER_VERSION

log = logging.getLogger("bot.catalog")

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
CSV_AUDIENCES = {"全社会", "特定群体"}
CSV_METHODS = {"主动", "依申请"}
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
class Content:
    """Everything valid in one content folder, plus every problem found."""

    root: Path
    areas: list[AreaDoc] = field(default_factory=list)
    topics: list[TopicDoc] = field(default_factory=list)
    regions: list[RegionDoc] = field(default_factory=list)
    policies: list[PolicyDoc] = field(default_factory=list)
    interpretations: list[InterpretationDoc] = field(default_factory=list)
    catalog: list[CatalogRow] = field(default_factory=list)
    catalog_files: set[str] = field(default_factory=set)  # CSVs read (even partly)
    menu: dict[str, Any] | None = None
    holidays: Holidays = field(default_factory=Holidays)
    synonyms: list[list[str]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # Files present but rejected: the database keeps their previous version.
    failed_paths: set[str] = field(default_factory=set)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


# ---------------------------------------------------------------- reading files


class _Reader:
    """Collects problems for one content folder while its files are read."""

    def __init__(self, root: Path, display_root: str) -> None:
        self.root = root
        self.display_root = display_root
        self.content = Content(root=root)

    def shown(self, rel: str) -> str:
        return f"{self.display_root}/{rel}" if self.display_root else rel

    def problem(self, rel: str, line: int, message: str, severity: str = "error") -> None:
        self.content.problems.append(Problem(self.shown(rel), line, message, severity))  # type: ignore[arg-type]

    def fail(self, rel: str, line: int, message: str) -> None:
        self.problem(rel, line, message)
        self.content.failed_paths.add(rel)

    def read_text(self, rel: str) -> tuple[str, bytes] | None:
        try:
            raw = (self.root / rel).read_bytes()
        except OSError as exc:
            self.fail(rel, 0, f"无法读取：{exc.strerror}")
            return None
        try:
            return raw.decode("utf-8-sig"), raw
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            self.fail(rel, line, "不是 UTF-8 编码（请另存为 UTF-8）")
            return None

    # ---- Markdown with front matter

    def front_matter(self, rel: str) -> tuple[dict[str, Any], str, dict[str, int], str] | None:
        read = self.read_text(rel)
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
        digest = hashlib.sha256(f"{rel}\0{RENDER_VERSION}\0".encode() + raw).hexdigest()
        return meta, body.strip("\n"), lines, digest

    def fields(
        self, rel: str, meta: dict[str, Any], lines: dict[str, int], specs: dict[str, Spec]
    ) -> dict[str, Any] | None:
        def report(key: str, message: str) -> None:
            self.problem(rel, lines.get(key, 1), message)

        values = convert_fields(meta, specs, report)
        if values is None:
            self.content.failed_paths.add(rel)
        return values

    def policy(self, rel: str) -> PolicyDoc | None:
        parsed = self.front_matter(rel)
        if parsed is None:
            return None
        meta, body, lines, digest = parsed
        values = self.fields(rel, meta, lines, POLICY_FIELDS)
        if values is None:
            return None
        doc = PolicyDoc(**values, body_md=body, source_path=rel, content_hash=digest, lines=lines)
        if doc.published_on and doc.published_on < doc.written_on:
            self.fail(rel, lines.get("published_on", 1), "published_on: 发布日期早于成文日期")
            return None
        if doc.expires_on and doc.expires_on < doc.written_on:
            self.fail(rel, lines.get("expires_on", 1), "expires_on: 失效日期早于成文日期")
            return None
        for item in doc.attachments:  # the file must be there and of a type we serve
            path = self.root / ATTACHMENTS / item["file"]
            if not path.is_file() or read_type(path) is None:
                self.fail(rel, lines.get("attachments", 1),
                          f"attachments: {ATTACHMENTS}/{item['file']} 不存在或不是 PDF、图片、MP4")  # fmt: skip
                return None
        if doc.replaced_by == doc.id:
            self.fail(rel, lines.get("replaced_by", 1), "replaced_by: 不能指向自身")
            return None
        if doc.replaced_by and doc.validity == Validity.valid:
            self.problem(
                rel, lines["replaced_by"], "已填写 replaced_by，但 validity 仍为 有效", "warning"
            )
        return doc

    def interpretation(self, rel: str) -> InterpretationDoc | None:
        parsed = self.front_matter(rel)
        if parsed is None:
            return None
        meta, body, lines, digest = parsed
        values = self.fields(rel, meta, lines, INTERPRETATION_FIELDS)
        if values is None:
            return None
        return InterpretationDoc(
            **values, body_md=body, source_path=rel, content_hash=digest, lines=lines
        )

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
    reader: _Reader,
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
    "id": Spec(ident, required=True),
    "name": Spec(text(64), required=True),
    "aliases": Spec(str_list(), default=[]),
}
TOPIC_FIELDS = {
    "id": Spec(ident, required=True),
    "name": Spec(text(30), required=True),
    "aliases": Spec(str_list(), default=[]),
    "areas": Spec(str_list(), default=[]),
}
REGION_FIELDS = {"name": Spec(text(64), required=True), "aliases": Spec(str_list(), default=[])}


def _read_areas(reader: _Reader) -> None:
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
        if values["id"] in seen_ids or values["name"] in seen_names:
            reader.problem(rel, line, f"领域 '{values['id']}'（{values['name']}）重复")
            continue
        seen_ids.add(values["id"])
        seen_names.add(values["name"])
        reader.content.areas.append(AreaDoc(position=position, **values))


def _read_topics(reader: _Reader) -> None:
    rel = "topics.yaml"
    area_ids = {a.id for a in reader.content.areas}
    seen: set[str] = set()
    for position, (line, item, keys) in enumerate(reader.yaml_items(rel)):
        values = _item_fields(reader, rel, line, item, keys, TOPIC_FIELDS)
        if values is None:
            continue
        if values["id"] in seen or values["name"] in seen:
            reader.problem(rel, line, f"主题 '{values['id']}'（{values['name']}）重复")
            continue
        unknown = [a for a in values["areas"] if a not in area_ids]
        if unknown:
            reader.problem(
                rel,
                keys.get("areas", line),
                f"areas: areas.yaml 中没有领域 id {', '.join(unknown)}",
            )
            continue
        seen.update((values["id"], values["name"]))
        reader.content.topics.append(TopicDoc(position=position, **values))


def _read_regions(reader: _Reader) -> None:
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


def _read_holidays(reader: _Reader) -> None:
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


def _read_menu(reader: _Reader) -> None:
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


def _read_synonyms(reader: _Reader) -> None:
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


def _read_catalog(reader: _Reader, rel: str) -> None:
    read = reader.read_text(rel)
    if read is None:
        return
    area_names = {a.name for a in reader.content.areas}
    rows = csv.reader(io.StringIO(read[0], newline=""))
    try:
        header = [h.strip() for h in next(rows)]
    except StopIteration:
        reader.fail(rel, 1, "文件为空")
        return
    if header != CSV_HEADER:
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
            if len(row) != len(CSV_HEADER):
                reader.problem(rel, start, f"应有 {len(CSV_HEADER)} 列，实有 {len(row)} 列")
                continue
            cells = [cell.strip() for cell in row]
            seq, level1, level2, content_, basis, limit, subject, channel, who, how, area = cells
            if not level1:
                reader.problem(rel, start, "一级事项不能为空")
            elif area not in area_names:
                reader.problem(rel, start, f"领域: areas.yaml 中没有 '{area}'")
            elif who not in CSV_AUDIENCES:
                reader.problem(rel, start, f"公开对象: 应为 {' 或 '.join(sorted(CSV_AUDIENCES))}")
            elif how not in CSV_METHODS:
                reader.problem(rel, start, f"公开方式: 应为 {' 或 '.join(sorted(CSV_METHODS))}")
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
                        area,
                        seq,
                        level1,
                        level2,
                        content_,
                        basis,
                        limit[:255],
                        subject[:255],
                        channel[:255],
                        who,
                        how,
                        rel,
                        start,
                    )
                )
    except csv.Error as exc:
        reader.problem(rel, line, f"CSV 格式错误：{exc}")


def _files(root: Path, folder: str, pattern: str) -> Iterable[str]:
    base = root / folder
    if not base.is_dir():
        return []
    return sorted(p.relative_to(root).as_posix() for p in base.glob(pattern) if p.is_file())


def _cross_check(reader: _Reader) -> None:
    """Rules that need every file: duplicates, references, the 三同步 pairing."""
    content = reader.content
    area_names = {a.name for a in content.areas}
    topic_ids = {t.id for t in content.topics}

    def drop(doc: PolicyDoc | InterpretationDoc, key: str, message: str) -> None:
        reader.fail(doc.source_path, doc.lines.get(key, 1), message)

    policies: dict[str, PolicyDoc] = {}
    for doc in content.policies:
        if doc.id in policies:
            drop(doc, "id", f"id '{doc.id}' 与 {reader.shown(policies[doc.id].source_path)} 重复")
            continue
        bad_areas = [a for a in doc.areas if a not in area_names]
        bad_topics = [t for t in doc.topics if t not in topic_ids]
        if bad_areas:
            drop(
                doc,
                "areas",
                f"areas: areas.yaml 中没有领域 {'、'.join(bad_areas)}（请填写领域名称）",
            )
        elif bad_topics:
            drop(doc, "topics", f"topics: topics.yaml 中没有主题 id {', '.join(bad_topics)}")
        else:
            policies[doc.id] = doc
    every_policy_id = set(policies) | {d.id for d in content.policies}
    for doc in list(policies.values()):
        if doc.replaced_by and doc.replaced_by not in every_policy_id:
            drop(doc, "replaced_by", f"replaced_by: 找不到政策 '{doc.replaced_by}'")
            del policies[doc.id]

    interpretations: dict[str, InterpretationDoc] = {}
    for interp in content.interpretations:
        if interp.id in interpretations:
            other = reader.shown(interpretations[interp.id].source_path)
            drop(interp, "id", f"id '{interp.id}' 与 {other} 重复")
        elif interp.policy not in policies:
            why = "未通过检查" if interp.policy in every_policy_id else "不存在"
            drop(interp, "policy", f"policy: 政策 '{interp.policy}' {why}，本解读未导入")
        else:
            interpretations[interp.id] = interp

    paired = {i.policy for i in interpretations.values()}
    for doc in list(policies.values()):
        if doc.requires_interpretation and doc.id not in paired:
            drop(
                doc,
                "requires_interpretation",
                "requires_interpretation: 该政策须与解读同步发布，但没有找到有效的解读",
            )
            del policies[doc.id]
    content.policies = list(policies.values())
    content.interpretations = list(interpretations.values())


def load_content(root: Path | str, *, display_root: str | None = None) -> Content:
    """Read and validate a content folder; never raises for bad content.

    ``display_root`` is how paths are shown in problems (default: ``root`` as given).
    """
    root = Path(root)
    shown = display_root if display_root is not None else str(root).rstrip("/")
    reader = _Reader(root, "" if shown == "." else shown)
    if not root.is_dir():
        reader.content.problems.append(Problem(shown, 0, "内容目录不存在"))
        return reader.content
    _read_areas(reader)
    _read_topics(reader)
    _read_regions(reader)
    _read_holidays(reader)
    _read_menu(reader)
    _read_synonyms(reader)
    for rel in _files(root, "catalog", "*.csv"):
        _read_catalog(reader, rel)
    for rel in _files(root, "policies", "*.md"):
        if (doc := reader.policy(rel)) is not None:
            reader.content.policies.append(doc)
    for rel in _files(root, "interpretations", "*.md"):
        if (interp := reader.interpretation(rel)) is not None:
            reader.content.interpretations.append(interp)
    _cross_check(reader)
    reader.content.problems.sort(key=lambda p: (p.path, p.line))
    return reader.content


def load_holidays(root: Path | str) -> Holidays:
    """Only holidays.yaml: deadlines need it without reading every document. Its
    problems are logged here, as no content check runs on this path to show them."""
    reader = _Reader(Path(root), "")
    _read_holidays(reader)
    for problem in reader.content.problems:
        log.warning("holidays.yaml problem; entry ignored", extra={"problem": str(problem)})
    return reader.content.holidays
