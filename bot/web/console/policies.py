"""Publishing screens: the list of documents, and one screen to write a policy with all its
metadata and its interpretations side by side, with a live preview as residents will see it.

Every change goes through ``bot.catalog.publishing`` (the admin API's rules:
the same converters as content files, 三同步, four-eyes bound to the version);
the calls are kept in ``_save`` and ``review.py``. The editor shows the working
version when there is one: editing a published policy saves a correction, a
new version that residents see only once it is published. Attachments are
uploaded with the form (``bot.catalog.attachments.store_upload``: type by
content, size-limited). Documents that come from content files are shown
read-only with their file.

Departments (谁起草谁解读, ``bot.accounts.permissions.can_edit_policy``): a publisher
whose account names a department sees, opens and saves only the console policies whose
发布机构 is that department (plus every content-file policy, read-only); another
department's policy is refused with 403. A publisher with an empty department may edit
every policy, as before departments existed, so existing deployments (and accounts made
for API-token holders) keep working until an admin sets one. Admins edit everything.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from aiohttp import web
from tortoise.expressions import Q
from tortoise.functions import Count

from bot.accounts.permissions import can_edit_policy
from bot.catalog import attachments, publishing
from bot.catalog.fields import POLICY_FIELDS
from bot.catalog.models import (
    Area,
    Disclosure,
    Interpretation,
    InterpretationForm,
    Policy,
    PolicyVersion,
    Status,
    Topic,
    Validity,
)
from bot.catalog.render import render_markdown
from bot.config import Role
from bot.errors import DomainError, Invalid
from bot.keys import SETTINGS
from bot.web.console.frame import (
    Upload,
    User,
    action,
    back,
    can,
    page,
    page_number,
    refuse,
    render,
    who,
)
from bot.web.errors import status_of
from bot.web.responses import json_response

WRITE_ROLES = (Role.publisher,)
PER_PAGE = 30
MAX_PREVIEW = 200_000
STATUS_NAMES = {s.value: name for s, name in publishing.STATUS_NAMES.items()}
LABELS = {
    "id": "编号（网址）", "title": "标题", "issuer": "发布机构", "written_on": "成文日期",
    "published_on": "发布日期", "doc_number": "文号", "index_number": "索引号", "areas": "领域",
    "topics": "主题", "keywords": "关键词", "summary": "摘要", "validity": "有效性",
    "expires_on": "失效日期", "replaced_by": "替代文件", "disclosure": "公开方式",
    "requires_interpretation": "须同步解读", "body": "正文", "form": "解读形式",
    "media_url": "媒体链接", "interpretations": "解读", "attachments": "附件", "eligibility": "适用条件",
}  # fmt: skip
VERSION_NAMES = {s.value: name for s, name in publishing.VERSION_NAMES.items()}
DONE = {"saved": "草稿已保存。", "submitted": "已提交审核，等待审核人发布。"}
_FIELD = re.compile(r"\b(" + "|".join(sorted(LABELS, key=len, reverse=True)) + r")\b")
_INTERP = re.compile(r"^i(\d{1,2})_(id|title|form|issuer|media_url|body)$")
_ATTACHMENT = re.compile(r"^a(\d{1,2})_(file|title|keep)$")


OTHER_DEPARTMENT = "该政策属于其他发布机构，您只能编辑本部门（{}）的政策。"


def restricted(user: User) -> str:
    """The department a publisher is limited to; empty means not limited (see above)."""
    return user.department if user.role == Role.publisher else ""


def may_edit(user: User, policy: Policy) -> bool:
    """Whether ``user`` may open, save and submit ``policy`` in the editor."""
    if not can(user, *WRITE_ROLES):
        return False
    return not restricted(user) or can_edit_policy(user, policy)


def _scope(user: User) -> Q | None:
    """What the list shows a restricted publisher: its department's policies, and files."""
    department = restricted(user)
    if not department:
        return None
    return Q(issuer=department) | Q(source_path__isnull=False)


def in_words(message: str) -> str:
    """Field names in refusals (``written_on: …``) shown by their Chinese labels."""
    return _FIELD.sub(lambda m: LABELS[m.group(1)], message)


# --- list ----------------------------------------------------------------------------------


@page
async def policy_list(request: web.Request, user: User) -> web.Response:
    status = request.query.get("status", "")
    status = status if status in STATUS_NAMES else ""
    text = request.query.get("q", "").strip()[:50]
    number = page_number(request)
    start = (number - 1) * PER_PAGE
    scope = _scope(user)
    if status:  # a draft or review list holds corrections of published policies too
        total, rows = await publishing.list_by_state(Status(status), PER_PAGE, start, text, scope)
    else:
        query = Policy.filter(title__icontains=text) if text else Policy.all()
        query = query.filter(scope) if scope is not None else query
        total = await query.count()
        rows = list(await query.order_by("-updated_at", "id").offset(start).limit(PER_PAGE))
    ids = [p.id for p in rows]
    interps = dict(
        await Interpretation.filter(policy_id__in=ids)
        .annotate(n=Count("id"))
        .group_by("policy_id")
        .values_list("policy_id", "n")
    ) if ids else {}  # fmt: skip
    return render(
        request, "policies.html", user, title="政策发布", items=rows, interps=interps,
        versions=await publishing.working_versions(ids), versions_names=VERSION_NAMES,
        shown=status, q=text, statuses=STATUS_NAMES, total=total, page=number,
        pages=max(1, -(-total // PER_PAGE)), write_roles=WRITE_ROLES,
    )  # fmt: skip


# --- one document --------------------------------------------------------------------------


def _returned(version: PolicyVersion | None) -> dict[str, Any] | None:
    """The reviewer's reason while the version they sent back waits for its authors."""
    if version is None or version.state.value != "draft" or not version.sent_back_reason:
        return None
    return {"by": version.sent_back_by or "审核人", "at": version.sent_back_at,
            "reason": version.sent_back_reason}  # fmt: skip


async def _editor(
    request: web.Request, user: User, policy: Policy | None, values: dict[str, Any],
    interps: list[dict[str, Any]], error: str = "", status: int = 200,
) -> web.Response:  # fmt: skip
    version = await publishing.working_version(policy.id) if policy else None
    return render(
        request, "policy_edit.html", user, status=status,
        title=f"编辑：{policy.title}" if policy else "新建政策", policy=policy, v=values,
        interps=[*interps, {}], areas=await Area.all(), topics=await Topic.all(),
        validities=list(Validity), disclosures=list(Disclosure), forms=list(InterpretationForm),
        returned=_returned(version), error=error, version=version,
        max_mb=request.app[SETTINGS].attachments.max_bytes // (1024 * 1024),
        notice=DONE.get(request.query.get("done", ""), ""), statuses=STATUS_NAMES,
    )  # fmt: skip


def _values_of(policy: Policy, areas: list[str], topics: list[str]) -> dict[str, Any]:
    return {
        "id": policy.id, "title": policy.title, "issuer": policy.issuer,
        "written_on": policy.written_on.isoformat(),
        "published_on": policy.published_on.isoformat() if policy.published_on else "",
        "doc_number": policy.doc_number or "", "index_number": policy.index_number or "",
        "areas": areas, "topics": topics, "keywords": "，".join(policy.keywords),
        "summary": policy.summary, "validity": policy.validity.value,
        "expires_on": policy.expires_on.isoformat() if policy.expires_on else "",
        "replaced_by": policy.replaced_by or "", "disclosure": policy.disclosure.value,
        "requires_interpretation": policy.requires_interpretation, "body": policy.body_md,
        "attachments": list(policy.attachments or []),
        "eligibility": _rule_text(policy.eligibility),
    }  # fmt: skip


def _snapshot_values(snap: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A working version's snapshot (plain JSON) as the editor's fields."""
    values = {key: "" if snap[key] is None else snap[key] for key in POLICY_FIELDS if key in snap}
    values["keywords"] = "，".join(snap.get("keywords") or [])
    values["body"] = snap.get("body_md", "")
    values["eligibility"] = _rule_text(snap.get("eligibility"))
    interps = [
        {"id": i["id"], "title": i["title"], "form": i.get("form", ""),
         "issuer": i.get("issuer") or "", "media_url": i.get("media_url") or "",
         "body": i.get("body_md", "")}
        for i in snap.get("interpretations", [])
    ]  # fmt: skip
    return values, interps


def _rule_text(rule: dict[str, Any] | None) -> str:
    """The stored 政策找人 rule as the YAML a content file would hold (empty: none)."""
    return yaml.safe_dump(rule, allow_unicode=True, sort_keys=False) if rule else ""


def _rule_of(raw: str) -> Any:
    """The editor's YAML for ``publishing`` to check with the content files' converter."""
    if not raw.strip():
        return None
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第 {mark.line + 1} 行" if mark is not None else ""
        raise Invalid("invalid", f"eligibility: {where}不是有效的 YAML，请检查缩进和冒号") from None


def _interp_values(row: Interpretation) -> dict[str, Any]:
    return {"id": row.id, "title": row.title, "form": row.form.value, "issuer": row.issuer,
            "media_url": row.media_url or "", "body": row.body_md}  # fmt: skip


@page
async def new_policy(request: web.Request, user: User) -> web.Response:
    if not can(user, *WRITE_ROLES):
        return refuse(request, user, "只有发布员可以起草政策。")
    return await _editor(request, user, None, {"areas": [], "topics": []}, [])


@page
async def policy_page(request: web.Request, user: User) -> web.Response:
    policy = await Policy.get_or_none(id=request.match_info["id"])
    if policy is None:
        return refuse(request, user, "没有这份政策。", 404)
    if not policy.source_path and can(user, *WRITE_ROLES) and not may_edit(user, policy):
        return refuse(request, user, OTHER_DEPARTMENT.format(restricted(user)))
    version = await publishing.working_version(policy.id)
    if not policy.source_path and can(user, *WRITE_ROLES):
        if version is not None:
            values, written = _snapshot_values(version.snapshot)
            return await _editor(request, user, policy, values, written)
        interps = await Interpretation.filter(policy_id=policy.id).order_by("id")
        areas = [a.name for a in await policy.areas.all()]
        topics = [t.id for t in await policy.topics.all()]
        return await _editor(
            request, user, policy, _values_of(policy, areas, topics),
            [_interp_values(i) for i in interps],
        )  # fmt: skip
    areas = [a.name for a in await policy.areas.all()]
    topics = [t.id for t in await policy.topics.all()]
    interps = await Interpretation.filter(policy_id=policy.id).order_by("id")
    return render(
        request, "policy_view.html", user, title=policy.title, p=policy, areas=areas,
        topic_names=dict(await Topic.filter(id__in=topics).values_list("id", "name")),
        interps=interps, statuses=STATUS_NAMES, returned=_returned(version), version=version,
        versions_names=VERSION_NAMES,
    )  # fmt: skip


# --- saving --------------------------------------------------------------------------------


def _words(raw: str) -> list[str]:
    return [w for w in re.split(r"[,，、;；\s]+", raw) if w]


def _form_to_data(form: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The editor's fields as the body ``publishing`` takes; blank fields are left out."""
    data: dict[str, Any] = {}
    for key in ("id", "title", "issuer", "written_on", "published_on", "doc_number",
                "index_number", "summary", "validity", "expires_on", "replaced_by", "disclosure"):  # fmt: skip
        value = str(form.get(key, "")).strip()
        if value:
            data[key] = value
    data["areas"] = form.getall("areas", [])
    data["topics"] = form.getall("topics", [])
    data["keywords"] = _words(str(form.get("keywords", "")))
    data["requires_interpretation"] = bool(form.get("requires_interpretation"))
    data["body"] = str(form.get("body", ""))
    slots: dict[int, dict[str, Any]] = {}
    for key in form:
        match = _INTERP.match(key)
        if match:
            value = str(form.get(key, "")).strip() if match.group(2) != "body" else str(form[key])
            slots.setdefault(int(match.group(1)), {})[match.group(2)] = value
    kept: dict[int, dict[str, str]] = {}
    for key in form:
        match = _ATTACHMENT.match(key)
        if match:
            kept.setdefault(int(match.group(1)), {})[match.group(2)] = str(form.get(key, ""))
    data["attachments"] = [
        {"file": a["file"], "title": a.get("title", "").strip() or a["file"]}
        for _, a in sorted(kept.items())
        if a.get("keep") and a.get("file")
    ]
    interps = []
    for _, slot in sorted(slots.items()):
        if not any(slot.get(k, "").strip() for k in ("id", "title", "body")):
            continue  # the empty slot for one more
        interps.append({k: v for k, v in slot.items() if v != ""})
    return data, interps


def _store_uploads(request: web.Request, form: Any, data: dict[str, Any]) -> None:
    """Keep each uploaded file (by its hash) and list it under the policy's attachments.

    Files stored before a refusal stay listed, so a second try loses nothing."""
    settings = request.app[SETTINGS].attachments
    title = str(form.get("upload_title", "")).strip()[:100]
    for upload in form.getall("upload", []):
        if not isinstance(upload, Upload):
            continue
        if upload.too_large:
            raise attachments.too_large(settings.max_bytes, upload.filename)
        try:
            name, _ = attachments.store_upload(upload.data, settings.dir, settings.max_bytes)
        except Invalid as exc:
            raise Invalid(exc.code, f"附件“{upload.filename}”：{exc.message}") from None
        if all(a["file"] != name for a in data["attachments"]):
            data["attachments"].append({"file": name, "title": title or upload.filename or name})


async def _save(
    request: web.Request, user: User, form: Any, policy_id: str | None
) -> web.StreamResponse:
    data, interps = _form_to_data(form)
    submit = form.get("then") == "submit"
    department = restricted(user)
    if department:  # neither another department's policy nor moving one to it
        current = await Policy.get_or_none(id=policy_id) if policy_id else None
        if (current is not None and not may_edit(user, current)) or data.get(
            "issuer", department
        ) != department:
            return refuse(request, user, OTHER_DEPARTMENT.format(department))
    try:
        _store_uploads(request, form, data)
        rule = _rule_of(str(form.get("eligibility", "")))
        body = {**data, "interpretations": interps, **({"eligibility": rule} if rule else {})}
        if policy_id is None:  # a new id: refused if taken, never writes over another policy
            saved = await publishing.create_policy(body, who(user))
        else:
            saved = await publishing.update_policy(policy_id, body, who(user))
        if submit:
            await publishing.submit(saved.id, who(user))
    except DomainError as exc:
        policy = await Policy.get_or_none(id=policy_id) if policy_id else None
        values = {
            **data,
            "keywords": str(form.get("keywords", "")),
            "eligibility": str(form.get("eligibility", "")),
        }
        return await _editor(request, user, policy, values, interps,
                             error=in_words(exc.message), status=status_of(exc))  # fmt: skip
    raise back(f"/admin/policies/{saved.id}", done="submitted" if submit else "saved")


@action(*WRITE_ROLES)
async def create(request: web.Request, user: User, form: Any) -> web.StreamResponse:
    return await _save(request, user, form, None)


@action(*WRITE_ROLES)
async def update(request: web.Request, user: User, form: Any) -> web.StreamResponse:
    return await _save(request, user, form, request.match_info["id"])


@action(*WRITE_ROLES)
async def preview(request: web.Request, user: User, form: Any) -> web.Response:
    """Markdown → the HTML residents will see, by the same renderer and sanitiser as saving."""
    text = str(form.get("body", ""))[:MAX_PREVIEW]
    return json_response({"html": render_markdown(text)})
