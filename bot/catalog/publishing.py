"""The publishing workflow of the console and the admin API: versions of a
policy package (the policy and its interpretations), draft → review → published.

Every draft is a ``PolicyVersion``: a snapshot of the fields, the body and
the interpretations as written, with its ``content_hash``. A policy never
published (or withdrawn) is also mirrored into its ``Policy`` and
``Interpretation`` rows, which residents cannot see; while a policy is
published its rows stay what residents see, and a correction is a new
version worked on beside it, published over it with the same id and URLs.
Published versions stay in the history; every step is in the audit trail,
written in the same transaction.

Four-eyes is bound to the text: ``publish`` takes the hash of the version the
reviewer saw and refuses any other, and nobody publishes a version they wrote
into or submitted. A policy marked ``requires_interpretation`` cannot go out
alone (三同步). The 发布日期 is the day the service publishes: a typed date
before 成文日期 or before that day (backdated) is refused, and the moment
of first publication is kept in ``Policy.published_at`` for the deadline
report. Documents from content files are managed by ``content sync``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from bot import audit
from bot.audit import Actor
from bot.catalog import events
from bot.catalog.fields import (
    INTERPRETATION_FIELDS,
    convert_fields,
    date_order_problems,
)
from bot.catalog.kinds import kind
from bot.catalog.models import (
    Area,
    Interpretation,
    Policy,
    PolicyVersion,
    Status,
    Topic,
    VersionState,
)
from bot.catalog.render import render_markdown
from bot.catalog.versions import canonical, content_hash, diff_html
from bot.errors import BadRequest, Conflict, Forbidden, Invalid, NotFound

WORKING = (VersionState.draft, VersionState.review)
STATUS_NAMES = {
    Status.draft: "草稿",
    Status.review: "待审核",
    Status.published: "已发布",
    Status.unpublished: "已撤回",
}
VERSION_NAMES = {
    VersionState.draft: "草稿",
    VersionState.review: "待审核",
    VersionState.published: "已发布",
    VersionState.superseded: "已被新版本取代",
}
_INTERP_SPECS = {k: v for k, v in INTERPRETATION_FIELDS.items() if k != "policy"}
_INTERP_KEYS = [*_INTERP_SPECS, "body_md"]


# --- a draft: checked like a content file, kept as a plain snapshot ---------------------------


def _plain(value: Any) -> Any:
    return orjson.loads(canonical(value))


def _check(data: Any, policy_id: str | None = None) -> tuple[dict[str, Any], bool]:
    """Check a request body with the content files' converters; 422 listing every problem.

    Returns the snapshot (plain JSON) and whether it named its interpretations."""
    if not isinstance(data, dict):
        raise BadRequest("bad_request", "请求体应为 JSON 对象")
    data = dict(data)
    if policy_id is not None:
        data["id"] = policy_id
    body = data.pop("body", "") or ""
    has_interps = "interpretations" in data
    raw_interps = data.pop("interpretations", None)
    problems: list[str] = []
    values = convert_fields(data, kind("policy").fields, lambda _key, msg: problems.append(msg))
    if values is not None:
        problems += date_order_problems(values)
    if not isinstance(body, str):
        problems.append("body: 应为 Markdown 文本")
    interps: list[dict[str, Any]] = []
    if raw_interps is not None and not isinstance(raw_interps, list):
        problems.append("interpretations: 应为列表")
    for index, item in enumerate(raw_interps or []):
        prefix = f"interpretations[{index}]."
        if not isinstance(item, dict):
            problems.append(f"interpretations[{index}]: 应为对象")
            continue
        item = dict(item)
        item_body = item.pop("body", "") or ""
        named = item.pop("policy", None)  # the content format's field, optional here
        if named not in (None, "", data.get("id")):
            problems.append(f"{prefix}policy: 应为本政策的 id '{data.get('id')}'")

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
    snapshot = _plain({**values, "body_md": body, "interpretations": interps})
    return snapshot, has_interps


def _typed(snapshot: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The snapshot's values converted back to dates and enums (they were checked on save)."""
    fail = _fail_on_problem
    fields = kind("policy").fields
    values = convert_fields({k: snapshot.get(k) for k in fields}, fields, fail)
    interps = []
    for item in snapshot.get("interpretations", []):
        got = convert_fields({k: item.get(k) for k in _INTERP_SPECS}, _INTERP_SPECS, fail)
        interps.append({**(got or {}), "body_md": item.get("body_md", "")})
    return values or {}, interps


def _fail_on_problem(key: str, message: str) -> None:
    raise Invalid("invalid", message)


async def _rows_snapshot(conn: BaseDBAsyncClient, policy: Policy) -> dict[str, Any]:
    """A snapshot of what the rows hold (policies made before versions existed)."""
    await policy.fetch_related("areas", "topics", using_db=conn)
    values = {key: getattr(policy, key, None) for key in kind("policy").fields}
    values["areas"] = [a.name for a in policy.areas]
    values["topics"] = [t.id for t in policy.topics]
    interps = await Interpretation.filter(policy_id=policy.id).using_db(conn).order_by("id")
    items = [{key: getattr(i, key) for key in _INTERP_KEYS} for i in interps]
    return _plain({**values, "body_md": policy.body_md, "interpretations": items})


# --- reading ------------------------------------------------------------------------------


async def working_version(
    policy_id: str, conn: BaseDBAsyncClient | None = None
) -> PolicyVersion | None:
    """The version being written or reviewed, if any (there is at most one)."""
    return (
        await PolicyVersion.filter(policy_id=policy_id, state__in=WORKING)
        .using_db(conn)
        .order_by("-number")
        .first()
    )


async def working_versions(policy_ids: list[str]) -> dict[str, PolicyVersion]:
    """The working version of each of many policies, in one query (for lists)."""
    rows = await PolicyVersion.filter(policy_id__in=policy_ids, state__in=WORKING)
    return {v.policy_id: v for v in rows}  # type: ignore[attr-defined]


async def published_version(
    policy_id: str, conn: BaseDBAsyncClient | None = None
) -> PolicyVersion | None:
    """The latest version that went out (withdrawn or not)."""
    return (
        await PolicyVersion.filter(
            policy_id=policy_id, state__in=(VersionState.published, VersionState.superseded)
        )
        .using_db(conn)
        .order_by("-number")
        .first()
    )


async def history(policy_id: str) -> list[PolicyVersion]:
    """Every version of a policy, newest first."""
    return list(await PolicyVersion.filter(policy_id=policy_id).order_by("-number"))


async def diff_against_published(policy_id: str) -> str:
    """HTML (escaped) of what the working version changes against the published one."""
    working = await working_version(policy_id)
    if working is None:
        raise NotFound("no_draft", "该政策没有正在修改的版本")
    published = await published_version(policy_id)
    return diff_html(published.snapshot if published else None, working.snapshot)


async def list_by_state(
    status: Status, limit: int, offset: int, title: str = "", where: Q | None = None
) -> tuple[int, list[Policy]]:
    """Policies with a version in draft or review, or whose public state is ``status``
    (with ``title`` in their title, and matching ``where``, if given)."""
    if status in (Status.draft, Status.review):
        query = Policy.filter(versions__state=VersionState(status.value))
    else:
        query = Policy.filter(status=status)
    if title:
        query = query.filter(title__icontains=title)
    if where is not None:
        query = query.filter(where)
    rows = await query.order_by("-updated_at", "id").offset(offset).limit(limit)
    return await query.count(), list(rows)


# --- writing ------------------------------------------------------------------------------


async def _policy_for_update(conn: BaseDBAsyncClient, policy_id: str) -> Policy:
    policy = await Policy.filter(id=policy_id).using_db(conn).select_for_update().first()
    if policy is None:
        raise NotFound("not_found", f"没有政策 '{policy_id}'")
    if policy.source_path:
        raise Conflict(
            "managed_by_content",
            f"该政策由内容文件 {policy.source_path} 管理，请修改文件后运行 content sync",
        )
    return policy


async def _check_references(conn: BaseDBAsyncClient, snapshot: dict[str, Any]) -> None:
    names = snapshot.get("areas") or []
    found = set(await Area.filter(name__in=names).using_db(conn).values_list("name", flat=True))
    if missing := set(names) - found:
        raise Invalid("invalid", f"areas: 没有领域 {'、'.join(sorted(missing))}")
    topics = snapshot.get("topics") or []
    known = set(await Topic.filter(id__in=topics).using_db(conn).values_list("id", flat=True))
    if missing := set(topics) - known:
        raise Invalid("invalid", f"topics: 没有主题 {', '.join(sorted(missing))}")
    target = snapshot.get("replaced_by")
    if target and not await Policy.filter(id=target).using_db(conn).exists():
        raise Invalid("invalid", f"replaced_by: 找不到政策 '{target}'")
    ids = [i["id"] for i in snapshot.get("interpretations", [])]
    taken = (
        await Interpretation.filter(id__in=ids)
        .exclude(policy_id=snapshot["id"])
        .using_db(conn)
        .values_list("id", flat=True)
    )
    if taken:
        raise Conflict("conflict", f"解读 id 已被其他政策使用：{', '.join(map(str, taken))}")


async def _apply(
    conn: BaseDBAsyncClient,
    policy: Policy,
    snapshot: dict[str, Any],
    status: Status,
    published_on: dt.date | None = None,
) -> list[str]:
    """Write a snapshot into the policy's rows with ``status``; returns the interpretation ids."""
    values, interps = _typed(snapshot)
    for key, value in values.items():
        if key not in ("id", "areas", "topics"):
            setattr(policy, key, value)
    if published_on is not None:
        policy.published_on = published_on
    policy.body_md = snapshot.get("body_md", "")
    policy.body_html = render_markdown(policy.body_md)
    policy.status = status
    await policy.save(using_db=conn)
    await policy.areas.clear(using_db=conn)
    await policy.topics.clear(using_db=conn)
    if areas := await Area.filter(name__in=values["areas"]).using_db(conn):
        await policy.areas.add(*areas, using_db=conn)
    if topics := await Topic.filter(id__in=values["topics"]).using_db(conn):
        await policy.topics.add(*topics, using_db=conn)
    current = {i.id: i for i in await Interpretation.filter(policy_id=policy.id).using_db(conn)}
    for item in interps:
        row = current.pop(item["id"], None) or Interpretation(id=item["id"], policy_id=policy.id)
        for key, value in item.items():
            setattr(row, key, value)
        if status == Status.published and row.published_on is None:
            row.published_on = policy.published_on
        row.body_html = render_markdown(item["body_md"])
        row.status = status
        await row.save(using_db=conn)
    for stale in current.values():  # left out of this version: withdrawn, never deleted
        if stale.status == Status.published or stale.published_on is not None:
            stale.status = Status.unpublished
            await stale.save(using_db=conn, update_fields=["status", "updated_at"])
        else:
            await stale.delete(using_db=conn)
    return [i["id"] for i in interps]


async def _save_version(
    conn: BaseDBAsyncClient,
    policy: Policy,
    snapshot: dict[str, Any],
    who: Actor,
    *,
    keep_interps: bool,
) -> PolicyVersion:
    """Write the working version (a new one when there is none) and, unless the
    policy is published, mirror it into the rows as a draft."""
    await _keep_legacy_history(conn, policy)
    version = await working_version(policy.id, conn)
    if not keep_interps:
        base = version or await published_version(policy.id, conn)
        snapshot = {**snapshot, "interpretations": base.snapshot["interpretations"] if base else []}
    await _check_references(conn, snapshot)
    if policy.status != Status.published:
        await _apply(conn, policy, snapshot, Status.draft)
    digest = content_hash(snapshot)
    if version is None:
        number = await PolicyVersion.filter(policy_id=policy.id).using_db(conn).count() + 1
        return await PolicyVersion.create(
            policy_id=policy.id, number=number, state=VersionState.draft, snapshot=snapshot,
            content_hash=digest, authors=[who.name], using_db=conn,
        )  # fmt: skip
    version.snapshot, version.content_hash = snapshot, digest
    version.state, version.submitted_by = VersionState.draft, None
    if who.name not in version.authors:
        version.authors = [*version.authors, who.name]
    await version.save(using_db=conn)
    return version


async def _keep_legacy_history(conn: BaseDBAsyncClient, policy: Policy) -> None:
    """A policy published before versions were kept: its text becomes version 1."""
    if policy.status not in (Status.published, Status.unpublished):
        return
    if await PolicyVersion.filter(policy_id=policy.id).using_db(conn).exists():
        return
    old = await _rows_snapshot(conn, policy)
    await PolicyVersion.create(
        policy_id=policy.id, number=1, state=VersionState.published, snapshot=old,
        content_hash=content_hash(old), published_on=policy.published_on,
        published_at=policy.published_at, using_db=conn,
    )  # fmt: skip


async def create_policy(data: Any, who: Actor) -> Policy:
    """A new policy (version 1), or a new version of one that was withdrawn."""
    snapshot, _ = _check(data)
    async with in_transaction() as conn:
        policy = await Policy.filter(id=snapshot["id"]).using_db(conn).select_for_update().first()
        if policy is not None and (
            policy.source_path
            or policy.status != Status.unpublished
            or await working_version(policy.id, conn)
        ):
            raise Conflict("conflict", await _exists_message(conn, policy))
        if policy is None:
            policy = Policy(id=snapshot["id"], status=Status.draft)
        version = await _save_version(conn, policy, snapshot, who, keep_interps=True)
        await audit.record(
            who, "policy.create", "policy", policy.id, conn=conn, version=version.number,
            hash=version.content_hash, interpretations=[i["id"] for i in snapshot["interpretations"]],
        )  # fmt: skip
    return policy


async def _exists_message(conn: BaseDBAsyncClient, policy: Policy) -> str:
    state = STATUS_NAMES[policy.status]
    if policy.source_path:
        return f"政策 id '{policy.id}' 已存在（{state}，由内容文件 {policy.source_path} 管理）"
    working = await working_version(policy.id, conn)
    if working is not None:
        return (
            f"政策 id '{policy.id}' 已存在（{state}），第 {working.number} 版"
            f"{VERSION_NAMES[working.state]}中，请修改该版本"
        )
    return f"政策 id '{policy.id}' 已存在（{state}）；要更正请修改该政策，将保存为新版本"


async def update_policy(policy_id: str, data: Any, who: Actor) -> Policy:
    """Replace the working version's fields (and, if given, its interpretations);
    a published or withdrawn policy gets a new version, its page unchanged until published."""
    snapshot, has_interps = _check(data, policy_id)
    async with in_transaction() as conn:
        policy = await _policy_for_update(conn, policy_id)
        version = await _save_version(conn, policy, snapshot, who, keep_interps=has_interps)
        await audit.record(
            who, "policy.update", "policy", policy.id, conn=conn, version=version.number,
            hash=version.content_hash,
        )  # fmt: skip
    return policy


async def save_draft(data: Any, who: Actor) -> Policy:
    """Create or update by the body's ``id``: the console's one "save as draft"."""
    policy_id = data.get("id") if isinstance(data, dict) else None
    if isinstance(policy_id, str) and await Policy.exists(id=policy_id):
        return await update_policy(policy_id, data, who)
    return await create_policy(data, who)


async def _working_in(
    conn: BaseDBAsyncClient, policy: Policy, state: VersionState, doing: str
) -> PolicyVersion:
    version = await working_version(policy.id, conn)
    if version is None:
        raise Conflict("no_draft", f"政策当前为{STATUS_NAMES[policy.status]}，没有可{doing}的版本")
    if version.state != state:
        raise Conflict(
            "conflict",
            f"第 {version.number} 版当前为{VERSION_NAMES[version.state]}，不能{doing}"
            f"（政策当前为{STATUS_NAMES[policy.status]}）",
        )
    return version


async def submit(policy_id: str, who: Actor) -> Policy:
    """Send the working draft to review."""
    async with in_transaction() as conn:
        policy = await _policy_for_update(conn, policy_id)
        version = await _working_in(conn, policy, VersionState.draft, "提交审核")
        version.state, version.submitted_by = VersionState.review, who.name
        await version.save(using_db=conn)
        if policy.status != Status.published:
            await _move_rows(conn, policy, Status.review)
        await audit.record(
            who, "policy.submit", "policy", policy.id, conn=conn, version=version.number,
            hash=version.content_hash,
        )  # fmt: skip
    return policy


async def send_back(policy_id: str, who: Actor, reason: str) -> Policy:
    """Return a submitted version to its authors as a draft, with the reviewer's reason."""
    async with in_transaction() as conn:
        policy = await _policy_for_update(conn, policy_id)
        version = await _working_in(conn, policy, VersionState.review, "退回")
        version.state, version.sent_back_reason = VersionState.draft, reason[:500]
        version.sent_back_by, version.sent_back_at = who.name, dt.datetime.now(dt.UTC)
        await version.save(using_db=conn)
        if policy.status != Status.published:
            await _move_rows(conn, policy, Status.draft)
        await audit.record(
            who, "policy.reject", "policy", policy.id, conn=conn, version=version.number,
            reason=reason[:500],
        )  # fmt: skip
    return policy


async def _move_rows(conn: BaseDBAsyncClient, policy: Policy, status: Status) -> None:
    policy.status = status
    await policy.save(using_db=conn, update_fields=["status", "updated_at"])
    await (
        Interpretation.filter(policy_id=policy.id, status__in=(Status.draft, Status.review))
        .using_db(conn)
        .update(status=status)
    )


def _publication_day(typed: dt.date | None, first: dt.date | None, today: dt.date) -> dt.date:
    """The 发布日期 to show: today for a first publication, the first one for a correction."""
    if first is not None:
        if typed not in (None, first):
            raise Invalid(
                "invalid",
                f"published_on: 更正版本的发布日期应保持首次发布日期 {first.isoformat()}",
            )
        return first
    if typed is not None and typed < today:
        raise Invalid(
            "backdated",
            f"published_on: 发布日期 {typed.isoformat()} 早于实际发布日 {today.isoformat()}"
            "（不得倒签），请改为当天或留空",
        )
    if typed is not None and typed > today:
        raise Invalid(
            "invalid", f"published_on: 发布日期 {typed.isoformat()} 晚于今天，请留空或改为当天"
        )
    return today


async def publish(policy_id: str, who: Actor, today: dt.date, version_hash: str | None) -> Policy:
    """Publish the reviewed version (the one whose hash the reviewer saw) and its
    interpretations together, over any version residents saw before."""
    async with in_transaction() as conn:
        policy = await _policy_for_update(conn, policy_id)
        version = await _working_in(conn, policy, VersionState.review, "发布")
        if not version_hash:
            raise Invalid("version_hash_required", "请提供所审阅版本的 version_hash")
        if version_hash != version.content_hash:
            raise Conflict(
                "version_changed",
                f"第 {version.number} 版在您审阅后已被修改，请重新审阅后再发布",
            )
        if who.name in version.authors or who.name == version.submitted_by:
            raise Forbidden("own_submission", "不能审核发布自己撰写或提交的政策")
        snapshot = version.snapshot
        if snapshot.get("requires_interpretation") and not snapshot.get("interpretations"):
            raise Conflict("interpretation_required", "该政策须与解读同步发布，请先添加解读")
        previous = await published_version(policy.id, conn)
        first = (
            await PolicyVersion.filter(policy_id=policy.id, published_on__isnull=False)
            .using_db(conn)
            .order_by("number")
            .first()
        )
        typed = snapshot.get("published_on")
        day = _publication_day(
            dt.date.fromisoformat(typed) if typed else None,
            first.published_on if first else None,
            today,
        )
        now = dt.datetime.now(dt.UTC)
        interps = await _apply(conn, policy, snapshot, Status.published, published_on=day)
        policy.version = version.number
        policy.published_at = policy.published_at or now
        policy.content_hash = version.content_hash
        await policy.save(
            using_db=conn, update_fields=["version", "published_at", "content_hash", "updated_at"]
        )
        if previous is None:  # news; a correction is not (never a second notice on an edit)
            await events.policies_published([policy.id], conn)
        else:
            previous.state = VersionState.superseded
            await previous.save(using_db=conn, update_fields=["state", "updated_at"])
        version.state, version.published_by = VersionState.published, who.name
        version.published_at, version.published_on = now, day
        await version.save(using_db=conn)
        await audit.record(
            who, "policy.publish", "policy", policy.id, conn=conn, version=version.number,
            hash=version.content_hash, previous_hash=previous.content_hash if previous else None,
            interpretations=interps,
        )  # fmt: skip
    return policy


async def withdraw(policy_id: str, who: Actor, reason: str) -> Policy:
    """Take a published policy and its interpretations off the site (never deleted)."""
    async with in_transaction() as conn:
        policy = await _policy_for_update(conn, policy_id)
        if policy.status != Status.published:
            raise Conflict(
                "conflict", f"政策当前为{STATUS_NAMES[policy.status]}，只有已发布的政策可以撤回"
            )
        policy.status = Status.unpublished
        await policy.save(using_db=conn, update_fields=["status", "updated_at"])
        moved = (
            await Interpretation.filter(policy_id=policy.id, status=Status.published)
            .using_db(conn)
            .values_list("id", flat=True)
        )
        await (
            Interpretation.filter(id__in=list(moved))
            .using_db(conn)
            .update(status=Status.unpublished)
        )
        await audit.record(
            who, "policy.withdraw", "policy", policy.id, conn=conn, version=policy.version,
            interpretations=list(moved), **({"reason": reason} if reason else {}),
        )  # fmt: skip
    return policy
