"""Disclosure requests (依申请公开): receive, register, extend, ask for 补正, reply.

One home function per step, shared by the admin API, the console and the chat;
each keeps ``due_on`` current from the clock (``bot.participation.clock``),
writes one audit entry, and never logs or audits personal data (names, ID
numbers, phones, addresses and emails are sealed at rest, ``bot.privacy``).
A reply, an extension or a 补正 notice that must reach the applicant is written
to the outbox in the same transaction (``bot.participation.outbox``).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from typing import Any

from tortoise.transactions import in_transaction

from bot import audit
from bot.audit import Actor
from bot.catalog.deadlines import WorkCalendar, stored_calendar
from bot.config import Settings
from bot.errors import Conflict, Invalid, NotFound
from bot.participation.clock import (
    MAX_EXTENSION_WORKING_DAYS,
    Pause,
    RequestClock,
    supplement_deadline,
)
from bot.participation.models import DisclosureRequest, Outbox, RequestState
from bot.participation.outcomes import (
    APPLICANT_TYPES,
    DELIVERY,
    ORG_KINDS,
    OUTCOMES,
)
from bot.privacy import Sealer, mask_id, mask_name, mask_phone, mask_text, sealer

log = logging.getLogger("bot.participation")

RESIDENT = Actor("居民", "resident")
STATE_NAMES = {
    "received": "办理中",
    "supplement": "待补正（期限暂停计算）",
    "third_party": "征求第三方意见中（期限暂停计算）",
    "answered": "已答复",
}
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[0-9][0-9\- ]{5,18}[0-9]$")
# Format only: a wrong check digit is for staff to query, not a reason to lose the request.
_RESIDENT_ID = re.compile(r"\d{17}[\dX]")
ID_ALIASES = {"身份证": "居民身份证", "二代身份证": "居民身份证", "营业执照": "统一社会信用代码"}


def today(settings: Settings) -> dt.date:
    return dt.datetime.now(settings.server.tz).date()


# --- validation ----------------------------------------------------------------------------


def _text(data: dict[str, Any], key: str, limit: int, *, required: bool, label: str) -> str | None:
    value = data.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise Invalid("invalid", f"请填写{label}（{key}）")
        return None
    if not isinstance(value, str):
        raise Invalid("invalid", f"{label}（{key}）应为文本")
    value = value.strip()
    if len(value) > limit:
        raise Invalid("invalid", f"{label}（{key}）不能超过 {limit} 字")
    return value


def _need(data: dict[str, Any], key: str, limit: int, label: str) -> str:
    value = _text(data, key, limit, required=True, label=label)
    assert value is not None  # _text raised otherwise
    return value


def _date(value: Any, key: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise Invalid("invalid", f"{key} 应为日期（YYYY-MM-DD）") from None


def _applicant(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise Invalid("invalid", "请填写申请人信息（applicant）")
    kind = data.get("type")
    if kind not in APPLICANT_TYPES:
        raise Invalid("invalid", "申请人类型（applicant.type）应为 公民 或 法人或其他组织")
    name = _text(data, "name", 100, required=True, label="申请人姓名或名称")
    id_type = _need(data, "id_type", 32, "证件类型")
    id_type = ID_ALIASES.get(id_type, id_type)  # the form offers ID_TYPES; letters may say more
    id_number = _need(data, "id_number", 40, "证件号码").replace(" ", "").upper()
    if id_type == "居民身份证" and not _RESIDENT_ID.fullmatch(id_number):
        raise Invalid(
            "invalid", "居民身份证号码应为 18 位（最后一位可为 X），请核对（applicant.id_number）"
        )
    if id_type == "统一社会信用代码" and not re.fullmatch(r"[0-9A-Z]{18}", id_number):
        raise Invalid("invalid", "统一社会信用代码应为 18 位数字或大写字母（applicant.id_number）")
    phone = (_text(data, "phone", 20, required=True, label="联系电话") or "").replace(" ", "")
    if not _PHONE.fullmatch(phone):
        raise Invalid("invalid", "联系电话格式不正确（applicant.phone）")
    email = _text(data, "email", 254, required=False, label="电子邮箱")
    if email and not _EMAIL.fullmatch(email):
        raise Invalid("invalid", "电子邮箱格式不正确（applicant.email）")
    org_kind = None
    if kind == "法人或其他组织":
        org_kind = data.get("org_kind") or "其他"
        if org_kind not in ORG_KINDS:
            raise Invalid("invalid", f"组织类别（applicant.org_kind）应为：{'、'.join(ORG_KINDS)}")
    return {
        "type": kind,
        "org_kind": org_kind,
        "name": name,
        "id_type": id_type,
        "id_number": id_number,
        "phone": phone,
        "address": _text(data, "address", 200, required=False, label="通信地址"),
        "email": email,
    }


# --- receiving -----------------------------------------------------------------------------


async def receive(
    settings: Settings,
    data: Any,
    *,
    who: Actor = RESIDENT,
    openid: str | None = None,
    openid_verified: bool = False,
    staff: bool = False,
) -> DisclosureRequest:
    """A new request: from the H5 form or registered by staff with the day it was received
    (``received_on``). ``openid_verified``: WeChat's web authorisation (or staff) vouch for
    the openid; only then does the chat tell it the state, or a reply go to it."""
    if not isinstance(data, dict):
        raise Invalid("invalid", "请求体应为 JSON 对象")
    applicant = _applicant(data.get("applicant"))
    description = _text(data, "description", 4000, required=True, label="所需政府信息的内容描述")
    purpose = _text(data, "purpose", 1000, required=False, label="用途")
    delivery = data.get("delivery")
    if delivery not in DELIVERY:
        raise Invalid("invalid", f"获取信息的方式（delivery）应为：{'、'.join(DELIVERY)}")
    if staff:
        openid = _text(data, "openid", 64, required=False, label="openid")
        openid_verified = openid is not None
    if delivery == "微信" and not openid:
        raise Invalid("invalid", "选择“微信”答复时，请从公众号菜单打开申请表（需要微信身份）")
    if delivery == "电子邮件" and not applicant["email"]:
        raise Invalid("invalid", "选择“电子邮件”答复时，请填写电子邮箱（applicant.email）")
    if delivery == "邮寄" and not applicant["address"]:
        raise Invalid("invalid", "选择“邮寄”答复时，请填写通信地址（applicant.address）")
    now = today(settings)
    received_on = now
    if staff:
        if data.get("received_on") is None:
            raise Invalid("invalid", "请填写收到申请的日期（received_on）")
        received_on = _date(data["received_on"], "received_on")
        if received_on > now:
            raise Invalid("invalid", "received_on 不能晚于今天")
    elif data.get("received_on") is not None:
        raise Invalid("invalid", "received_on 只能由工作人员登记")
    seal = sealer(settings.privacy)
    due = RequestClock(received_on).due(await stored_calendar())
    async with in_transaction() as conn:
        req = await DisclosureRequest.create(
            number=f"new-{uuid.uuid4().hex[:24]}",  # replaced by the id-based number below
            via="staff" if staff else "online",
            openid=openid,
            openid_verified=bool(openid and openid_verified),
            applicant_type=applicant["type"],
            org_kind=applicant["org_kind"],
            name_sealed=seal.seal(applicant["name"]),
            id_type=applicant["id_type"],
            id_number_sealed=seal.seal(applicant["id_number"]),
            phone_sealed=seal.seal(applicant["phone"]),
            address_sealed=seal.seal(applicant["address"]),
            email_sealed=seal.seal(applicant["email"]),
            description=description,
            purpose=purpose,
            delivery=delivery,
            received_on=received_on,
            due_on=due.day,
            due_estimated=due.estimated,
            using_db=conn,
        )
        req.number = f"YSQ{received_on.year}-{req.id:06d}"
        await req.save(using_db=conn, update_fields=["number"])
        await audit.record(
            who, "disclosure.receive", "disclosure_request", req.number, conn=conn,
            via=req.via, received_on=received_on.isoformat(), due_on=due.day.isoformat(),
        )  # fmt: skip
    log.info("disclosure request received", extra={"number": req.number, "via": req.via})
    return req


# --- reading -------------------------------------------------------------------------------


async def get(number: str) -> DisclosureRequest:
    req = await DisclosureRequest.get_or_none(number=number.strip().upper())
    if req is None:
        raise NotFound("not_found", f"没有编号为 {number} 的申请")
    return req


async def list_requests(
    state: str | None = None, due_before: dt.date | None = None, limit: int = 500
) -> list[DisclosureRequest]:
    query = DisclosureRequest.all()
    if state:
        if state not in RequestState.__members__:
            raise Invalid("invalid", "state 应为 received、supplement、third_party 或 answered")
        query = query.filter(state=state)
    if due_before:
        query = query.filter(due_on__lte=due_before)
    return list(await query.order_by("due_on", "id").limit(limit))


async def due_counts(day: dt.date, within: int = 5) -> dict[str, int]:
    """Open requests past their due date, and due within ``within`` working days (dashboard)."""
    cal = await stored_calendar()
    horizon = cal.add_working_days(day, within).day
    running = DisclosureRequest.filter(state=RequestState.received)
    return {
        "requests_late": await running.filter(due_on__lt=day).count(),
        "requests_soon": await running.filter(due_on__gte=day, due_on__lte=horizon).count(),
    }


async def lookup(number: str, openid: str, last4: str | None) -> DisclosureRequest | None:
    """The request, for its applicant only: their own WeChat, or the phone's last four
    digits. Anyone else gets None, exactly as for a number that does not exist."""
    req = await DisclosureRequest.get_or_none(number=number.strip().upper())
    if req is None:
        return None
    if last4 is None:
        return req if req.openid_verified and req.openid == openid else None
    return req  # the caller compares the digits after opening the sealed phone


def phone_matches(req: DisclosureRequest, seal: Sealer, last4: str) -> bool:
    phone = seal.open(req.phone_sealed) or ""
    return len(last4) == 4 and len(phone) >= 4 and phone[-4:] == last4


def to_json(req: DisclosureRequest, seal: Sealer, *, full: bool = False) -> dict[str, Any]:
    """Staff view. ``full`` (handling staff) opens the sealed fields; otherwise masked."""
    opened = {k: seal.open(getattr(req, f"{k}_sealed")) for k in ("name", "id_number", "phone", "address", "email")}  # fmt: skip
    applicant = {"type": req.applicant_type, "org_kind": req.org_kind, "id_type": req.id_type}
    if full:
        applicant.update(opened)
    else:
        applicant.update(
            name=mask_name(opened["name"]), id_number=mask_id(opened["id_number"]),
            phone=mask_phone(opened["phone"]), address=mask_text(opened["address"]),
            email=mask_text(opened["email"]),
        )  # fmt: skip
    return {
        **public_json(req),
        "applicant": applicant,
        "description": req.description,
        "purpose": req.purpose,
        "delivery": req.delivery,
        "via": req.via,
        "openid": req.openid if full else None,
        "extension": {"days": req.extension_days, "reason": req.extension_reason,
                      "approver": req.extension_approver} if req.extension_days else None,
        "supplement": {"what": req.supplement_what, "sent_on": _iso(req.supplement_sent_on),
                       "supplied_on": _iso(req.supplied_on)} if req.supplement_sent_on else None,
        "pauses": req.pauses,
        "reply": {"outcome": req.outcome, "reason": req.outcome_reason, "text": req.reply_text,
                  "attachments": req.attachments, "replied_on": _iso(req.replied_on),
                  "replied_by": req.replied_by} if req.outcome else None,
    }  # fmt: skip


def public_json(req: DisclosureRequest) -> dict[str, Any]:
    """What the applicant is told: nothing personal."""
    return {
        "number": req.number,
        "received_on": req.received_on.isoformat(),
        "due_on": req.due_on.isoformat(),
        "due_estimated": req.due_estimated,
        "state": req.state.value,
        "state_name": STATE_NAMES[req.state.value],
    }


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


# --- the clock's steps ---------------------------------------------------------------------


def _clock(req: DisclosureRequest) -> RequestClock:
    pauses = tuple(
        Pause(dt.date.fromisoformat(a), dt.date.fromisoformat(b) if b else None)
        for a, b in req.pauses
    )
    return RequestClock(req.received_on, req.supplement_sent_on, req.supplied_on,
                        req.extension_days, pauses)  # fmt: skip


def _refresh_due(req: DisclosureRequest, cal: WorkCalendar) -> None:
    due = _clock(req).due(cal)
    req.due_on, req.due_estimated = due.day, due.estimated


async def _locked(number: str, conn: Any) -> DisclosureRequest:
    req = await DisclosureRequest.filter(number=number.strip().upper()).using_db(conn).select_for_update().first()  # fmt: skip
    if req is None:
        raise NotFound("not_found", f"没有编号为 {number} 的申请")
    if req.state == RequestState.answered:
        raise Conflict("conflict", f"申请 {req.number} 已答复")
    return req


async def _notify(req: DisclosureRequest, kind: str, text: str, conn: Any) -> Outbox | None:
    """Queue a message to the applicant by the channel they chose (WeChat, email)."""
    if req.delivery == "微信" and req.openid and req.openid_verified:
        return await Outbox.create(kind=kind, object_id=req.number, channel="wechat",
                                   openid=req.openid, text=text, using_db=conn)  # fmt: skip
    if req.email_sealed and req.delivery == "电子邮件":
        return await Outbox.create(kind=kind, object_id=req.number, channel="email",
                                   email_sealed=req.email_sealed, text=text, using_db=conn)  # fmt: skip
    return None  # 邮寄 / 自行领取, or an openid nobody vouched for: staff hand it over


async def extend(settings: Settings, number: str, data: Any, who: Actor) -> DisclosureRequest:
    """Once, by up to 20 working days, with the approver named and a reason."""
    body = data if isinstance(data, dict) else {}
    reason = _need(body, "reason", 500, "延期理由")
    approver = _need(body, "approver", 64, "批准人")
    days = body.get("days", MAX_EXTENSION_WORKING_DAYS)
    if (
        not isinstance(days, int)
        or isinstance(days, bool)
        or not 1 <= days <= MAX_EXTENSION_WORKING_DAYS
    ):
        raise Invalid("invalid", f"延长天数（days）应为 1 到 {MAX_EXTENSION_WORKING_DAYS} 个工作日")
    cal = await stored_calendar()
    async with in_transaction() as conn:
        req = await _locked(number, conn)
        if req.extension_days:
            raise Conflict("conflict", "答复期限只能延长一次")
        req.extension_days, req.extension_reason, req.extension_approver = days, reason, approver
        _refresh_due(req, cal)
        await req.save(using_db=conn)
        await audit.record(who, "disclosure.extend", "disclosure_request", req.number, conn=conn,
                           days=days, approver=approver, reason=reason, due_on=req.due_on.isoformat())  # fmt: skip
        await _notify(req, "disclosure.extend",
                      f"您的政府信息公开申请（编号 {req.number}）答复期限经 {approver} 批准延长 {days} 个工作日，"
                      f"将于 {_cn(req.due_on)} 前答复。理由：{reason}", conn)  # fmt: skip
    return req


async def supplement(settings: Settings, number: str, data: Any, who: Actor) -> DisclosureRequest:
    """Ask the applicant to clarify (补正), within 7 working days of receipt; stops the clock."""
    what = _need(data if isinstance(data, dict) else {}, "what", 1000, "需要补正的内容")
    now = today(settings)
    cal = await stored_calendar()
    async with in_transaction() as conn:
        req = await _locked(number, conn)
        if req.supplement_sent_on:
            raise Conflict("conflict", "补正应一次性告知，本申请已发出过补正通知")
        latest = supplement_deadline(cal, req.received_on).day
        if now > latest:
            raise Invalid(
                "invalid", f"补正通知应在收到申请之日起 7 个工作日内（{_cn(latest)}前）发出，已逾期"
            )
        req.supplement_what, req.supplement_sent_on = what, now
        req.state = RequestState.supplement
        await req.save(using_db=conn)
        await audit.record(who, "disclosure.supplement", "disclosure_request", req.number, conn=conn,
                           what=what, sent_on=now.isoformat())  # fmt: skip
        await _notify(req, "disclosure.supplement",
                      f"您的政府信息公开申请（编号 {req.number}）需要补正：{what}\n"
                      "收到补正后重新计算答复期限。", conn)  # fmt: skip
    return req


async def supplied(settings: Settings, number: str, data: Any, who: Actor) -> DisclosureRequest:
    """The clarification arrived (``on``, default today): the 20 working days start again."""
    body = data if isinstance(data, dict) else {}
    on = _date(body["on"], "on") if body.get("on") else today(settings)
    cal = await stored_calendar()
    async with in_transaction() as conn:
        req = await _locked(number, conn)
        if req.state != RequestState.supplement:
            raise Conflict("conflict", "本申请没有待补正的事项")
        if req.supplement_sent_on and on < req.supplement_sent_on:
            raise Invalid("invalid", "补正日期不能早于补正通知发出的日期")
        req.supplied_on, req.state = on, RequestState.received
        _refresh_due(req, cal)
        await req.save(using_db=conn)
        await audit.record(who, "disclosure.supplied", "disclosure_request", req.number, conn=conn,
                           supplied_on=on.isoformat(), due_on=req.due_on.isoformat())  # fmt: skip
    return req


async def third_party(settings: Settings, number: str, data: Any, who: Actor) -> DisclosureRequest:
    """Start (``{"done": false}``) or end (``{"done": true}``) waiting for a third party's
    opinion; the working days in between are not counted."""
    body = data if isinstance(data, dict) else {}
    on = _date(body["on"], "on") if body.get("on") else today(settings)
    cal = await stored_calendar()
    async with in_transaction() as conn:
        req = await _locked(number, conn)
        pauses = [list(p) for p in req.pauses]
        if body.get("done"):
            if req.state != RequestState.third_party or not pauses or pauses[-1][1]:
                raise Conflict("conflict", "本申请没有在征求第三方意见")
            pauses[-1][1] = on.isoformat()
            req.state = RequestState.received
        else:
            if req.state != RequestState.received:
                raise Conflict("conflict", "当前状态不能征求第三方意见")
            pauses.append([on.isoformat(), None])
            req.state = RequestState.third_party
        req.pauses = pauses
        _refresh_due(req, cal)
        await req.save(using_db=conn)
        await audit.record(who, "disclosure.third_party", "disclosure_request", req.number,
                           conn=conn, done=bool(body.get("done")), on=on.isoformat())  # fmt: skip
    return req


async def reply(settings: Settings, number: str, data: Any, who: Actor) -> DisclosureRequest:
    """Answer with an outcome of the annual report (and its sub-reason), a text and
    attachments; the message to the applicant goes into the outbox in the same transaction."""
    body = data if isinstance(data, dict) else {}
    outcome = body.get("outcome")
    if not isinstance(outcome, str) or outcome not in OUTCOMES:
        raise Invalid("invalid", f"答复结果（outcome）应为：{'、'.join(OUTCOMES)}")
    reason = body.get("reason") or None
    if OUTCOMES[outcome]:
        if not isinstance(reason, str) or reason not in OUTCOMES[outcome]:
            raise Invalid(
                "invalid", f"“{outcome}”需注明理由（reason）：{'；'.join(OUTCOMES[outcome])}"
            )
    elif reason is not None:
        raise Invalid("invalid", f"“{outcome}”不需要 reason")
    text = _need(body, "text", 4000, "答复内容")
    attachments = body.get("attachments") or []
    if not isinstance(attachments, list) or not all(
        isinstance(a, dict) and isinstance(a.get("name"), str) and isinstance(a.get("url"), str)
        and a["url"].startswith(("https://", "http://")) for a in attachments
    ):  # fmt: skip
        raise Invalid("invalid", "attachments 应为 [{name, url}] 列表（url 为 http(s) 地址）")
    now = today(settings)
    async with in_transaction() as conn:
        req = await _locked(number, conn)
        req.outcome, req.outcome_reason, req.reply_text = outcome, reason, text
        req.attachments = [{"name": a["name"][:200], "url": a["url"][:500]} for a in attachments]
        req.replied_on, req.replied_by, req.state = now, who.name, RequestState.answered
        await req.save(using_db=conn)
        message = f"您的政府信息公开申请（编号 {req.number}）已答复：{outcome}"
        message += f"（{reason}）" if reason else ""
        message += f"\n{text}"
        for a in req.attachments:
            message += f"\n附件：{a['name']} {a['url']}"
        queued = await _notify(req, "disclosure.reply", message, conn)
        await audit.record(who, "disclosure.reply", "disclosure_request", req.number, conn=conn,
                           outcome=outcome, reason=reason, replied_on=now.isoformat(),
                           late=now > req.due_on, outbox=queued.id if queued else None)  # fmt: skip
    log.info("disclosure request answered", extra={"number": req.number, "outcome": outcome})
    return req


def _cn(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"
