"""The reviewer's screen: each submitted package whole (the policy with all its metadata and
every interpretation with its own), published together (三同步) or sent back with a reason."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from aiohttp import web

from bot.catalog import publishing
from bot.catalog.models import Interpretation, Policy, Status
from bot.config import Role
from bot.errors import DomainError
from bot.models import AuditEntry
from bot.web.admin_api import refresh_search
from bot.web.console.frame import User, action, back, page, render, who
from bot.web.errors import status_of
from bot.web.modes import today

PUBLISH_ROLES = (Role.reviewer,)
MAX_SHOWN = 50
DONE = {"published": "政策及其解读已发布。", "rejected": "已退回修改，发布员会看到退回理由。"}


async def _names_by_policy(ids: list[str], field: str) -> dict[str, list[str]]:
    """Area names or topic ids of many policies in one query (no query per policy)."""
    out: dict[str, list[str]] = defaultdict(list)
    for pid, name in await Policy.filter(id__in=ids).values_list("id", field):
        if name is not None:
            out[pid].append(name)
    return out


@page
async def review_page(request: web.Request, user: User) -> web.Response:
    return await _view(request, user)


async def _view(
    request: web.Request, user: User, error: str = "", status: int = 200
) -> web.Response:
    _, policies = await publishing.list_by_state(Status.review, MAX_SHOWN, 0)
    ids = [p.id for p in policies]
    versions = await publishing.working_versions(ids)
    diffs = {  # a correction: the rows are what residents see, the change is the diff
        p.id: await publishing.diff_against_published(p.id)
        for p in policies
        if p.status == Status.published
    }
    interps: dict[str, list[Interpretation]] = {i: [] for i in ids}
    for interp in await Interpretation.filter(policy_id__in=ids).order_by("id"):
        interps[interp.policy_id].append(interp)  # type: ignore[attr-defined]
    submitted = {
        e.object_id: e
        for e in await AuditEntry.filter(
            object_type="policy", action="policy.submit", object_id__in=ids
        ).order_by("id")
    }
    return render(
        request, "review.html", user, status=status, title="审核发布", policies=policies,
        interps=interps, submitted=submitted, versions=versions, diffs=diffs, error=error,
        areas=await _names_by_policy(ids, "areas__name"),
        topics=await _names_by_policy(ids, "topics__name"),
        notice=DONE.get(request.query.get("done", ""), ""), publish_roles=PUBLISH_ROLES,
    )  # fmt: skip


async def _step(request: web.Request, user: User, run: Any, done: str) -> web.StreamResponse:
    try:
        await run
    except DomainError as exc:
        return await _view(request, user, error=exc.message, status=status_of(exc))
    if done == "published":
        await refresh_search(request)
    raise back("/admin/review", done=done)


@action(*PUBLISH_ROLES)
async def publish(request: web.Request, user: User, form: Any) -> web.StreamResponse:
    seen = str(form.get("version_hash", ""))  # the version the reviewer read on this page
    run = publishing.publish(request.match_info["id"], who(user), today(request), seen)
    return await _step(request, user, run, "published")


@action(*PUBLISH_ROLES)
async def send_back(request: web.Request, user: User, form: Any) -> web.StreamResponse:
    reason = str(form.get("reason", "")).strip()[:500]
    if not reason:
        return await _view(request, user, error="请填写退回理由，发布员会看到它。", status=422)
    run = publishing.send_back(request.match_info["id"], who(user), reason)
    return await _step(request, user, run, "rejected")
