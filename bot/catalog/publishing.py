"""The publishing workflow of the admin API: draft → review → published.

A publisher writes a policy and its interpretations as drafts and submits
them; a reviewer (not the one who submitted) publishes them together, in
one transaction (三同步). A policy marked ``requires_interpretation`` cannot
be published without one. Documents that come from content files are
managed by ``content sync`` and cannot be edited here. Every change is
written to the audit trail (``AuditEntry``) in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from bot import audit
from bot.audit import Actor
from bot.catalog import events
from bot.catalog.fields import INTERPRETATION_FIELDS, convert_fields
from bot.catalog.kinds import kind
from bot.catalog.models import Area, Interpretation, Policy, Status, Topic
from bot.catalog.render import render_markdown
from bot.errors import BadRequest, Conflict, Forbidden, Invalid, NotFound
from bot.models import AuditEntry

EDITABLE = (Status.draft, Status.review)
_INTERP_SPECS = {k: v for k, v in INTERPRETATION_FIELDS.items() if k != "policy"}


def _validate(data: Any) -> tuple[dict[str, Any], str, list[dict[str, Any]]]:
    """Check a draft with the same converters as content files; raise 422 listing every problem."""
    if not isinstance(data, dict):
        raise BadRequest("bad_request", "请求体应为 JSON 对象")
    data = dict(data)
    body = data.pop("body", "") or ""
    raw_interps = data.pop("interpretations", None)
    problems: list[str] = []
    values = convert_fields(data, kind("policy").fields, lambda _key, msg: problems.append(msg))
    if not isinstance(body, str):
        problems.append("body: 应为 Markdown 文本")
    interps: list[dict[str, Any]] = []
    if raw_interps is not None and not isinstance(raw_interps, list):
        problems.append("interpretations: 应为列表")
    for index, item in enumerate(raw_interps or []):
        if not isinstance(item, dict):
            problems.append(f"interpretations[{index}]: 应为对象")
            continue
        item = dict(item)
        item_body = item.pop("body", "") or ""
        prefix = f"interpretations[{index}]."

        def report(_key: str, message: str, prefix: str = prefix) -> None:
            problems.append(prefix + message)

        got = convert_fields(item, _INTERP_SPECS, report)
        if got is not None:
            interps.append({**got, "body_md": str(item_body)})
    ids = [i["id"] for i in interps]
    if len(ids) != len(set(ids)):
        problems.append("interpretations: id 重复")
    if problems or values is None:
        raise Invalid("invalid", "；".join(problems))
    return values, body, interps


async def _check_references(values: dict[str, Any], conn: BaseDBAsyncClient) -> list[Area]:
    areas = await Area.filter(name__in=values["areas"]).using_db(conn) if values["areas"] else []
    missing = set(values["areas"]) - {a.name for a in areas}
    if missing:
        raise Invalid("invalid", f"areas: 没有领域 {'、'.join(sorted(missing))}")
    if values["topics"]:
        found = set(
            await Topic.filter(id__in=values["topics"]).using_db(conn).values_list("id", flat=True)
        )
        if set(values["topics"]) - found:
            raise Invalid(
                "invalid",
                f"topics: 没有主题 {', '.join(sorted(set(values['topics']) - found))}",
            )
    target = values["replaced_by"]
    if target and not await Policy.filter(id=target).using_db(conn).exists():
        raise Invalid("invalid", f"replaced_by: 找不到政策 '{target}'")
    return list(areas)


async def _write_draft(
    conn: BaseDBAsyncClient,
    policy: Policy,
    values: dict[str, Any],
    body: str,
    interps: list[dict[str, Any]] | None,
) -> None:
    areas = await _check_references(values, conn)
    topics = await Topic.filter(id__in=values["topics"]).using_db(conn)
    for key, value in values.items():
        if key not in ("id", "areas", "topics"):
            setattr(policy, key, value)
    policy.body_md = body
    policy.body_html = render_markdown(body)
    policy.status = Status.draft
    await policy.save(using_db=conn)
    await policy.areas.clear(using_db=conn)
    await policy.topics.clear(using_db=conn)
    if areas:
        await policy.areas.add(*areas, using_db=conn)
    if topics:
        await policy.topics.add(*topics, using_db=conn)
    if interps is None:
        return
    taken = (
        await Interpretation.filter(id__in=[i["id"] for i in interps])
        .exclude(policy_id=policy.id)
        .using_db(conn)
        .values_list("id", flat=True)
    )
    if taken:
        raise Conflict("conflict", f"解读 id 已被其他政策使用：{', '.join(map(str, taken))}")
    current = {i.id: i for i in await Interpretation.filter(policy_id=policy.id).using_db(conn)}
    for item in interps:
        row = current.pop(item["id"], None) or Interpretation(id=item["id"], policy_id=policy.id)
        if row.status == Status.published:
            raise Conflict("conflict", f"解读 '{row.id}' 已发布，请先撤回")
        for key, value in item.items():
            setattr(row, key, value)
        row.body_html = render_markdown(item["body_md"])
        row.status = Status.draft
        await row.save(using_db=conn)
    for stale in current.values():  # drafts left out of the new list were never published
        if stale.status in EDITABLE:
            await stale.delete(using_db=conn)


async def _editable(conn: BaseDBAsyncClient, policy_id: str) -> Policy:
    policy = await Policy.filter(id=policy_id).using_db(conn).select_for_update().first()
    if policy is None:
        raise NotFound("not_found", f"没有政策 '{policy_id}'")
    if policy.source_path:
        raise Conflict("managed_by_content", "该政策由内容文件管理，请修改文件后运行 content sync")
    return policy


async def create_policy(data: Any, who: Actor) -> Policy:
    values, body, interps = _validate(data)
    async with in_transaction() as conn:
        if await Policy.filter(id=values["id"]).using_db(conn).exists():
            raise Conflict("conflict", f"政策 id '{values['id']}' 已存在")
        policy = Policy(id=values["id"])
        await _write_draft(conn, policy, values, body, interps)
        await audit.record(
            who,
            "policy.create",
            "policy",
            policy.id,
            conn=conn,
            interpretations=[i["id"] for i in interps],
        )
    return policy


async def update_policy(policy_id: str, data: Any, who: Actor) -> Policy:
    if isinstance(data, dict):
        data = {**data, "id": policy_id}
    values, body, interps = _validate(data)
    keep_interps = interps if isinstance(data, dict) and "interpretations" in data else None
    async with in_transaction() as conn:
        policy = await _editable(conn, policy_id)
        if policy.status not in EDITABLE:
            raise Conflict("conflict", "该政策已发布，请先撤回再修改")
        await _write_draft(conn, policy, values, body, keep_interps)
        await audit.record(who, "policy.update", "policy", policy.id, conn=conn)
    return policy


async def _transition(
    policy_id: str,
    who: Actor,
    action: str,
    allowed_from: tuple[Status, ...],
    to: Status,
    *,
    interps_from: tuple[Status, ...],
    today: dt.date | None = None,
    reason: str = "",
) -> Policy:
    """Move a policy and, with it, its interpretations that are in ``interps_from``."""
    async with in_transaction() as conn:
        policy = await _editable(conn, policy_id)
        if policy.status not in allowed_from:
            raise Conflict("conflict", f"当前状态为 {policy.status.value}，不能执行该操作")
        interps = await Interpretation.filter(policy_id=policy.id).using_db(conn)
        if action == "policy.publish":
            await _check_publishable(conn, policy, interps, who)
        policy.status = to
        if to == Status.published and policy.published_on is None:
            policy.published_on = today
        await policy.save(using_db=conn, update_fields=["status", "published_on", "updated_at"])
        if to == Status.published:
            await events.policies_published([policy.id], conn)
        moved = []
        for interp in interps:
            if interp.status in interps_from:
                interp.status = to
                if to == Status.published and interp.published_on is None:
                    interp.published_on = policy.published_on
                await interp.save(
                    using_db=conn, update_fields=["status", "published_on", "updated_at"]
                )
                moved.append(interp.id)
        detail = {"interpretations": moved, **({"reason": reason} if reason else {})}
        await audit.record(who, action, "policy", policy.id, conn=conn, **detail)
    return policy


async def _check_publishable(
    conn: BaseDBAsyncClient, policy: Policy, interps: list[Interpretation], who: Actor
) -> None:
    if policy.requires_interpretation and not interps:
        raise Conflict("interpretation_required", "该政策须与解读同步发布，请先添加解读")
    submitted = (
        await AuditEntry.filter(object_type="policy", object_id=policy.id, action="policy.submit")
        .using_db(conn)
        .first()
    )
    if submitted is not None and submitted.actor == who.name:
        raise Forbidden("own_submission", "不能审核发布自己提交的政策")


async def submit(policy_id: str, who: Actor) -> Policy:
    return await _transition(
        policy_id,
        who,
        "policy.submit",
        (Status.draft,),
        Status.review,
        interps_from=(Status.draft,),
    )


async def publish(policy_id: str, who: Actor, today: dt.date) -> Policy:
    return await _transition(
        policy_id,
        who,
        "policy.publish",
        (Status.review,),
        Status.published,
        interps_from=(Status.draft, Status.review),
        today=today,
    )


async def reject(policy_id: str, who: Actor, reason: str) -> Policy:
    return await _transition(
        policy_id,
        who,
        "policy.reject",
        (Status.review,),
        Status.draft,
        interps_from=(Status.review,),
        reason=reason,
    )


async def withdraw(policy_id: str, who: Actor, reason: str) -> Policy:
    return await _transition(
        policy_id,
        who,
        "policy.withdraw",
        (Status.published,),
        Status.unpublished,
        interps_from=(Status.published,),
        reason=reason,
    )
