"""Consultations (征求意见/调研): open list, comments from chat and page, moderation,
decisions, the feedback report (意见采纳情况), the CSV for the 起草部门.

One home function per step, shared by chat, pages, the admin API and the
console. Nothing is deleted: hiding keeps the text and puts the reason in the
audit trail; a comment is decided once (two staff deciding at once leave one
decision, and the audit trail shows both attempts).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import re
from typing import Any

from tortoise.transactions import in_transaction

from bot import audit
from bot.audit import Actor
from bot.catalog.deadlines import stored_calendar
from bot.catalog.fields import convert_fields
from bot.catalog.models import Area, Topic
from bot.config import Settings
from bot.errors import Conflict, Invalid, NotFound
from bot.participation.clock import period_shortfall
from bot.participation.content import FIELDS, split_sections
from bot.participation.models import (
    Comment,
    CommentState,
    Consultation,
    ConsultationKind,
    ConsultationStatus,
    Decision,
    Outbox,
)

log = logging.getLogger("bot.participation")

MAX_COMMENT = 2000
MAX_LISTED = 9
SYNC_ACTOR = Actor("内容同步", "editor")
_SECTION = re.compile(r"^(第[一二三四五六七八九十百零〇\d]+[章节条款项部分]|§\d+)$")
_CSV_RISKY = ("=", "+", "-", "@", "\t", "\r")


def today(settings: Settings) -> dt.date:
    return dt.datetime.now(settings.server.tz).date()


def is_open(c: Consultation, day: dt.date) -> bool:
    return c.status == ConsultationStatus.published and c.opens_on <= day <= c.closes_on


def phase(c: Consultation, day: dt.date) -> str:
    """upcoming | open | closed | reported."""
    if c.report_published_at:
        return "reported"
    if day < c.opens_on:
        return "upcoming"
    return "open" if day <= c.closes_on else "closed"


def days_left(c: Consultation, day: dt.date) -> int:
    """Days comments are still taken, today included (0 once closed)."""
    return max(0, (c.closes_on - day).days + 1) if day >= c.opens_on else 0


async def open_now(day: dt.date) -> list[Consultation]:
    """The consultations taking comments today, in the order chat numbers them."""
    return list(
        await Consultation.filter(
            status=ConsultationStatus.published, opens_on__lte=day, closes_on__gte=day
        ).order_by("closes_on", "id")
    )


async def get(consultation_id: str) -> Consultation:
    c = await Consultation.get_or_none(id=consultation_id, status=ConsultationStatus.published)
    if c is None:
        raise NotFound("not_found", "没有这个征求意见")
    return c


# --- residents -----------------------------------------------------------------------------


async def open_list_text(settings: Settings) -> str:
    day = today(settings)
    items = await open_now(day)
    if not items:
        return (
            "目前没有正在征求意见的文件或调研。新的征求意见发布后，订阅相关主题的居民会收到通知。"
        )
    base = settings.server.base_url
    lines = ["正在征求意见（发送“意见 序号 您的意见”参与，可注明条款，如“意见 1 第二条 …”）："]
    for number, c in enumerate(items[:MAX_LISTED], start=1):
        lines.append(
            f"{number}. {c.title}（{c.kind.value}，{c.issuer}，截至 {c.closes_on}，还剩 {days_left(c, day)} 天）\n{base}/consultations/{c.id}"
        )
    if len(items) > MAX_LISTED:
        lines.append(f"更多：{base}/consultations")
    return "\n".join(lines)


async def resolve(ref: str, day: dt.date) -> Consultation | None:
    """A chat reference: the number ``征求意见`` shows today, or the id."""
    if ref.isdigit():
        items = await open_now(day)
        index = int(ref) - 1
        return items[index] if 0 <= index < len(items) else None
    return await Consultation.get_or_none(id=ref.lower(), status=ConsultationStatus.published)


async def comment_from_chat(settings: Settings, openid: str, argument: str) -> str:
    """``意见 N [第二条] 内容`` → the answer the resident reads."""
    parts = argument.split(maxsplit=1)
    if len(parts) < 2:
        return "请按“意见 序号 您的意见”发送，如“意见 1 建议延长补贴申请时间”。发送“征求意见”查看序号。"
    ref, rest = parts
    day = today(settings)
    c = await resolve(ref, day)
    if c is None:
        return f"没有找到序号或编号为“{ref[:20]}”的征求意见。发送“征求意见”查看正在征求意见的文件。"
    section = None
    words = rest.split(maxsplit=1)
    if len(words) == 2 and _names_section(c, words[0]):
        section, rest = words
    try:
        comment = await add_comment(settings, c, openid, rest, section=section, via="chat")
    except (Invalid, Conflict) as exc:
        return exc.message
    where = f"（{section}）" if section else ""
    return (
        f"感谢参与！您对《{c.title}》{where}的意见已记录，编号 {comment.id}。\n"
        f"征求意见截至 {c.closes_on}，采纳情况将在截止后公布：{settings.server.base_url}/consultations/{c.id}"
    )


def _names_section(c: Consultation, word: str) -> bool:
    """``第二条``, ``§2``, or the start of one of the draft's headings (``二、票价``)."""
    if _SECTION.match(word):
        return True
    return len(word) >= 2 and any(str(s["heading"]).startswith(word) for s in c.sections)


async def add_comment(
    settings: Settings, c: Consultation, openid: str, text: str, *, section: str | None = None,
    via: str = "page", answers: dict[str, Any] | None = None,
) -> Comment:  # fmt: skip
    """Record a comment while the consultation is open; closed or not yet open is refused."""
    day = today(settings)
    if not is_open(c, day):
        if day < c.opens_on:
            raise Conflict(
                "not_open", f"《{c.title}》将于 {c.opens_on} 开始征求意见，届时欢迎参与。"
            )
        raise Conflict(
            "closed",
            f"《{c.title}》的征求意见已于 {c.closes_on} 截止，感谢关注。采纳情况将在网页公布。",
        )
    text = (text or "").strip()
    if not text and not answers:
        raise Invalid("invalid", "意见内容不能为空")
    if len(text) > MAX_COMMENT:
        raise Invalid("invalid", f"意见不能超过 {MAX_COMMENT} 字，请分几条发送")
    comment = await Comment.create(consultation=c, openid=openid, via=via, section=section,
                                   text=text, answers=answers or {})  # fmt: skip
    log.info(
        "consultation comment", extra={"consultation": c.id, "comment": comment.id, "via": via}
    )
    return comment


def survey_answers(c: Consultation, form: dict[str, list[str]]) -> dict[str, Any]:
    """A 调研 page's answers (``q1`` … fields), checked against the questions' choices."""
    out: dict[str, Any] = {}
    for s in c.sections:
        key = f"q{s['number']}"
        given = [v.strip() for v in form.get(key, []) if v.strip()]
        if not given:
            continue
        if s.get("choices"):
            if any(v not in s["choices"] for v in given):
                raise Invalid("invalid", f"第 {s['number']} 题的选项无效")
            out[str(s["number"])] = given if s.get("multiple") else given[0]
        else:
            out[str(s["number"])] = given[0][:MAX_COMMENT]
    return out


# --- staff ---------------------------------------------------------------------------------


async def comment_of(consultation_id: str, comment_id: int) -> Comment:
    comment = await Comment.get_or_none(id=comment_id, consultation_id=consultation_id)
    if comment is None:
        raise NotFound("not_found", f"没有编号为 {comment_id} 的意见")
    return comment


async def list_comments(consultation_id: str) -> list[Comment]:
    await get(consultation_id)
    return list(await Comment.filter(consultation_id=consultation_id).order_by("id"))


async def hide(consultation_id: str, comment_id: int, reason: str, who: Actor) -> Comment:
    """Hide abuse or personal data from the public; the text stays, the reason is audited."""
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("invalid", "请说明屏蔽理由（reason）")
    comment = await comment_of(consultation_id, comment_id)
    async with in_transaction() as conn:
        await Comment.filter(id=comment.id).using_db(conn).update(state=CommentState.hidden)
        await audit.record(who, "consultation.comment.hide", "consultation_comment", comment.id,
                           conn=conn, consultation=consultation_id, reason=reason[:500])  # fmt: skip
    comment.state = CommentState.hidden
    return comment


async def decide(consultation_id: str, comment_id: int, data: Any, who: Actor) -> Comment:
    """采纳 | 部分采纳 | 未采纳 with a reason, once. A second decision (say, a colleague
    deciding at the same moment) is refused and audited as refused."""
    body = data if isinstance(data, dict) else {}
    try:
        decision = Decision(str(body.get("decision")))
    except ValueError:
        raise Invalid("invalid", "decision 应为 采纳、部分采纳 或 未采纳") from None
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise Invalid("invalid", "请说明采纳或不采纳的理由（reason）")
    reason = reason.strip()[:1000]
    comment = await comment_of(consultation_id, comment_id)
    now = dt.datetime.now(dt.UTC)
    # One conditional update decides the race: only the first writer finds it undecided.
    won = await Comment.filter(id=comment.id, decision__isnull=True).update(
        decision=decision, reason=reason, decided_by=who.name, decided_at=now
    )
    await audit.record(who, "consultation.comment.decide", "consultation_comment", comment.id,
                       consultation=consultation_id, decision=decision.value,
                       result="decided" if won else "refused")  # fmt: skip
    await comment.refresh_from_db()
    if not won:
        raise Conflict(
            "conflict",
            f"该意见已由 {comment.decided_by} 作出处理（{comment.decision}），不能重复处理",
        )
    return comment


async def publish_report(
    settings: Settings, consultation_id: str, data: Any, who: Actor
) -> Consultation:
    """Publish the feedback report: after the period, every visible comment decided.
    Commenters are told (outbox), once each."""
    body = data if isinstance(data, dict) else {}
    text = str(body["text"]) if isinstance(body.get("text"), str) else ""
    c = await get(consultation_id)
    if c.report_published_at:
        raise Conflict("conflict", "意见采纳情况已公布")
    if today(settings) <= c.closes_on:
        raise Conflict("conflict", f"征求意见截至 {c.closes_on}，截止后才能公布采纳情况")
    undecided = await Comment.filter(consultation_id=c.id, state=CommentState.visible, decision__isnull=True).count()  # fmt: skip
    if undecided:
        raise Conflict("conflict", f"还有 {undecided} 条意见未作处理，请逐条处理后再公布")
    now = dt.datetime.now(dt.UTC)
    url = f"{settings.server.base_url}/consultations/{c.id}"
    async with in_transaction() as conn:
        done = await Consultation.filter(id=c.id, report_published_at__isnull=True).using_db(conn).update(
            report_published_at=now, report_published_by=who.name, report_text=text.strip()[:4000] or None
        )  # fmt: skip
        if not done:
            raise Conflict("conflict", "意见采纳情况已公布")
        openids = await Comment.filter(consultation_id=c.id).using_db(conn).values_list("openid", flat=True)  # fmt: skip
        for openid in sorted(set(openids)):
            await Outbox.create(kind="consultation.report", object_id=c.id, channel="wechat", openid=openid,
                                text=f"您参与的《{c.title}》征求意见，采纳情况已公布：{url}", url=url, using_db=conn)  # fmt: skip
        await audit.record(who, "consultation.report", "consultation", c.id, conn=conn, notified=len(set(openids)))  # fmt: skip
    await c.refresh_from_db()
    return c


async def create(settings: Settings, data: Any, who: Actor) -> Consultation:
    """Written in the console (or the admin API): the same fields and rules as a file."""
    if not isinstance(data, dict):
        raise Invalid("invalid", "请求体应为 JSON 对象")
    meta = {k: v for k, v in data.items() if k != "body"}
    problems: list[str] = []
    values = convert_fields(meta, FIELDS, lambda key, message: problems.append(message))
    if values is None:
        raise Invalid("invalid", "；".join(problems))
    short = period_shortfall(await stored_calendar(), values["kind"].value, values["opens_on"], values["closes_on"])  # fmt: skip
    if short and (values["closes_on"] < values["opens_on"] or not values["shortened_reason"]):
        raise Invalid("invalid", f"{short}；确需缩短的，请填写缩短理由（shortened_reason）")
    if await Consultation.exists(id=values["id"]):
        raise Conflict("conflict", f"编号 {values['id']} 已被使用")
    known = set(await Topic.filter(id__in=values["topics"]).values_list("id", flat=True))
    if unknown := [t for t in values["topics"] if t not in known]:
        raise Invalid("invalid", f"未知主题：{'、'.join(unknown)}")
    named = set(await Area.filter(name__in=values["areas"]).values_list("name", flat=True))
    if unknown := [a for a in values["areas"] if a not in named]:
        raise Invalid("invalid", f"未知领域：{'、'.join(unknown)}")
    body = str(data.get("body") or "")
    intro, sections = split_sections(body, values["kind"].value)
    if values["kind"] == ConsultationKind.survey and not sections:
        raise Invalid("invalid", "调研至少需要一个以 ## 开头的问题")
    c = await Consultation.create(**values, body_md=body, intro_html=intro, sections=sections)
    await audit.record(who, "consultation.create", "consultation", c.id, kind=c.kind.value)
    await announce_openings(settings)
    return c


async def announce_openings(settings: Settings) -> list[int]:
    """A campaign draft (for a reviewer to approve, like any push) telling residents
    subscribed to a consultation's topics that it is open; once per consultation."""
    from bot.push import campaigns

    day = today(settings)
    made = []
    pending = await Consultation.filter(status=ConsultationStatus.published, opening_campaign_id__isnull=True,
                                        closes_on__gte=day)  # fmt: skip
    for c in pending:
        if not c.topics:
            continue
        channel = "template" if settings.wechat.template_id else "customer"
        text = f"《{c.title}》正在征求意见（{c.opens_on} 至 {c.closes_on}），欢迎参与：{settings.server.base_url}/consultations/{c.id}"
        # 09:00 on the opening day; once that has passed, as soon as a reviewer approves.
        when = dt.datetime.combine(max(c.opens_on, day), dt.time(9), settings.server.tz)
        data = {"title": f"征求意见：{c.title}"[:128], "text": text, "audience": {"topics": c.topics},
                "channel": channel, "send_at": when.isoformat() if when > dt.datetime.now(dt.UTC) else None}  # fmt: skip
        try:
            campaign = await campaigns.create(data, SYNC_ACTOR, settings)
        except Invalid as exc:  # e.g. a topic removed since: the others are still announced
            log.warning(
                "consultation opening not announced",
                extra={"consultation": c.id, "reason": exc.message},
            )
            continue
        await Consultation.filter(id=c.id).update(opening_campaign_id=campaign.id)
        made.append(campaign.id)
    return made


# --- output --------------------------------------------------------------------------------


def comment_json(comment: Comment) -> dict[str, Any]:
    return {
        "id": comment.id, "text": comment.text, "section": comment.section,
        "answers": comment.answers or None, "created_at": comment.created_at.isoformat(),
        "state": comment.state.value, "decision": comment.decision.value if comment.decision else None,
        "reason": comment.reason,
    }  # fmt: skip


async def to_json(c: Consultation, day: dt.date, base_url: str) -> dict[str, Any]:
    """Open data: the consultation and, once published, its feedback report (hidden
    comments counted, not shown; no openids)."""
    data: dict[str, Any] = {
        "id": c.id, "title": c.title, "issuer": c.issuer, "kind": c.kind.value,
        "opens_on": c.opens_on.isoformat(), "closes_on": c.closes_on.isoformat(),
        "shortened_reason": c.shortened_reason, "topics": c.topics, "areas": c.areas,
        "phase": phase(c, day), "days_left": days_left(c, day),
        "sections": [{k: v for k, v in s.items()} for s in c.sections],
        "url": f"{base_url}/consultations/{c.id}",
    }  # fmt: skip
    data["comment_count"] = await Comment.filter(consultation_id=c.id).count()
    if c.report_published_at:
        comments = await Comment.filter(consultation_id=c.id).order_by("id")
        shown = [x for x in comments if x.state == CommentState.visible]
        data["report"] = {
            "published_at": c.report_published_at.isoformat(), "text": c.report_text,
            "hidden": len(comments) - len(shown),
            "counts": {d.value: sum(1 for x in shown if x.decision == d) for d in Decision},
            "comments": [{"id": x.id, "section": x.section, "text": x.text, "decision": x.decision.value if x.decision else None,
                          "reason": x.reason} for x in shown],
        }  # fmt: skip
    return data


def _cell(value: Any) -> str:
    """A CSV cell a spreadsheet will not run: formulas get a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_CSV_RISKY) else text


def csv_cells(rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return "\ufeff" + out.getvalue()  # BOM: Excel opens UTF-8 Chinese correctly


async def comments_csv(consultation_id: str) -> str:
    """Every comment for the 起草部门 (hidden ones marked, residents not identified)."""
    rows: list[list[Any]] = [
        ["编号", "提交时间", "渠道", "条款", "意见", "调研答案", "状态", "处理结果", "理由"]
    ]
    for x in await list_comments(consultation_id):
        answers = "；".join(f"{k}: {v}" for k, v in (x.answers or {}).items())
        rows.append([x.id, x.created_at.isoformat(timespec="seconds"), "微信对话" if x.via == "chat" else "网页",
                     x.section or "", x.text, answers, "已屏蔽" if x.state == CommentState.hidden else "公开",
                     x.decision.value if x.decision else "", x.reason or ""])  # fmt: skip
    return csv_cells(rows)
