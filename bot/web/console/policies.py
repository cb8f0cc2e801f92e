"""Publishing screens: the list of documents, and one screen to write a policy with all its
metadata and its interpretations side by side, with a live preview as residents will see it.

Every change goes through ``bot.catalog.publishing`` (the admin API's rules:
the same converters as content files, 三同步, four-eyes); the calls are kept
in ``_save`` and ``review.py`` so a new publishing API changes one place.
Documents that come from content files are shown read-only with their file.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from aiohttp import web
from tortoise.functions import Count

from bot.catalog import publishing
from bot.catalog.models import (
    Area,
    Disclosure,
    Interpretation,
    InterpretationForm,
    Policy,
    Topic,
    Validity,
)
from bot.catalog.render import render_markdown
from bot.config import Role
from bot.errors import DomainError, Invalid
from bot.models import AuditEntry
from bot.web.console.frame import User, action, back, can, page, page_number, refuse, render, who
from bot.web.errors import status_of
from bot.web.responses import json_response

WRITE_ROLES = (Role.publisher,)
PER_PAGE = 30
MAX_PREVIEW = 200_000
STATUS_NAMES = {"draft": "草稿", "review": "待审核", "published": "已发布", "unpublished": "已撤回"}
LABELS = {
    "id": "编号（网址）", "title": "标题", "issuer": "发布机构", "written_on": "成文日期",
    "published_on": "发布日期", "doc_number": "文号", "index_number": "索引号", "areas": "领域",
    "topics": "主题", "keywords": "关键词", "summary": "摘要", "validity": "有效性",
    "expires_on": "失效日期", "replaced_by": "替代文件", "disclosure": "公开方式",
    "requires_interpretation": "须同步解读", "body": "正文", "form": "解读形式",
    "media_url": "媒体链接", "interpretations": "解读", "eligibility": "适用条件",
}  # fmt: skip
DONE = {"saved": "草稿已保存。", "submitted": "已提交审核，等待审核人发布。"}
_FIELD = re.compile(r"\b(" + "|".join(sorted(LABELS, key=len, reverse=True)) + r")\b")
_INTERP = re.compile(r"^i(\d{1,2})_(id|title|form|issuer|media_url|body)$")


def in_words(message: str) -> str:
    """Field names in refusals (``written_on: …``) shown by their Chinese labels."""
    return _FIELD.sub(lambda m: LABELS[m.group(1)], message)


# --- list ----------------------------------------------------------------------------------


@page
async def policy_list(request: web.Request, user: User) -> web.Response:
    status = request.query.get("status", "")
    status = status if status in STATUS_NAMES else ""
    text = request.query.get("q", "").strip()[:50]
    query = Policy.all()
    if status:
        query = query.filter(status=status)
    if text:
        query = query.filter(title__icontains=text)
    number = page_number(request)
    total = await query.count()
    rows = await query.order_by("-updated_at", "id").offset((number - 1) * PER_PAGE).limit(PER_PAGE)
    ids = [p.id for p in rows]
    interps = dict(
        await Interpretation.filter(policy_id__in=ids)
        .annotate(n=Count("id"))
        .group_by("policy_id")
        .values_list("policy_id", "n")
    ) if ids else {}  # fmt: skip
    return render(
        request, "policies.html", user, title="政策发布", items=rows, interps=interps,
        shown=status, q=text, statuses=STATUS_NAMES, total=total, page=number,
        pages=max(1, -(-total // PER_PAGE)), write_roles=WRITE_ROLES,
    )  # fmt: skip


# --- one document --------------------------------------------------------------------------


async def _returned_reason(policy: Policy) -> AuditEntry | None:
    """The reviewer's reason, when the latest workflow step sent the draft back."""
    latest = (
        await AuditEntry.filter(
            object_type="policy", object_id=policy.id,
            action__in=("policy.submit", "policy.reject", "policy.publish"),
        ).order_by("-id").first()
    )  # fmt: skip
    return latest if latest is not None and latest.action == "policy.reject" else None


async def _editor(
    request: web.Request, user: User, policy: Policy | None, values: dict[str, Any],
    interps: list[dict[str, Any]], error: str = "", status: int = 200,
) -> web.Response:  # fmt: skip
    return render(
        request, "policy_edit.html", user, status=status,
        title=f"编辑：{policy.title}" if policy else "新建政策", policy=policy, v=values,
        interps=[*interps, {}], areas=await Area.all(), topics=await Topic.all(),
        validities=list(Validity), disclosures=list(Disclosure), forms=list(InterpretationForm),
        returned=await _returned_reason(policy) if policy else None, error=error,
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
        "eligibility": _rule_text(policy.eligibility),
    }  # fmt: skip


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
    areas = [a.name for a in await policy.areas.all()]
    topics = [t.id for t in await policy.topics.all()]
    interps = await Interpretation.filter(policy_id=policy.id).order_by("id")
    editable = (
        not policy.source_path and policy.status in publishing.EDITABLE and can(user, *WRITE_ROLES)
    )
    if editable:
        return await _editor(
            request, user, policy, _values_of(policy, areas, topics),
            [_interp_values(i) for i in interps],
        )  # fmt: skip
    return render(
        request, "policy_view.html", user, title=policy.title, p=policy, areas=areas,
        topic_names=dict(await Topic.filter(id__in=topics).values_list("id", "name")),
        interps=interps, statuses=STATUS_NAMES, returned=await _returned_reason(policy),
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
    interps = []
    for _, slot in sorted(slots.items()):
        if not any(slot.get(k, "").strip() for k in ("id", "title", "body")):
            continue  # the empty slot for one more
        interps.append({k: v for k, v in slot.items() if v != ""})
    return data, interps


async def _save(
    request: web.Request, user: User, form: Any, policy_id: str | None
) -> web.StreamResponse:
    data, interps = _form_to_data(form)
    submit = form.get("then") == "submit"
    try:
        rule = _rule_of(str(form.get("eligibility", "")))
        body = {**data, "interpretations": interps, **({"eligibility": rule} if rule else {})}
        if policy_id is None:
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
