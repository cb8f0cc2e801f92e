"""Residents' 留言 for staff: listing and answering, shared by the admin API and the console.

An answer is recorded first (who, when, in the audit trail) and then sent to
the resident as a customer-service message — WeChat only accepts those within
48 h of the resident's last message, so outside that window, after an
unfollow, in demo mode or when WeChat refuses, the answer stays recorded and
the caller learns ``delivered: false`` with the reason; never a 500. An
answer that was delivered (or is being sent) cannot be given again; one that
was not delivered may be sent again later, e.g. after the resident writes.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from bot import audit
from bot.audit import Actor
from bot.config import Role
from bot.errors import Conflict, Invalid, NotFound
from bot.feedback.masking import mask_personal
from bot.models import AuditEntry, Feedback, FeedbackStatus, Subscriber
from bot.wechat.errors import DEMO_MODE, NETWORK_ERROR, WeChatError

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger("bot.feedback")

READ_ROLES = (Role.publisher, Role.editor, Role.reviewer)  # admin may always
ANSWER_ROLES = (Role.editor, Role.reviewer)
MAX_MESSAGE = 1000  # characters of one 留言 (refused beyond, never cut)
MAX_ANSWER = 600  # characters: 3 bytes each in UTF-8, well inside a customer message
ANSWER_ACTIONS = ("feedback.answer", "feedback.delivery")  # the latest says what became of it
WINDOW = dt.timedelta(hours=48)
REPLY_TARGET = dt.timedelta(hours=48)  # staff answer every 留言 within this
MAX_PER_PAGE = 100

REASONS = {
    "outside_window": "居民最近 48 小时内没有给公众号发消息，微信不允许主动回复；答复已记录，可在居民再次留言后重新发送，或电话联系。",
    "unfollowed": "居民已取消关注公众号，无法发送；答复已记录。",
    "demo_mode": "演示模式（未配置公众号），消息未发送；答复已记录。",
    "limit": "48 小时内给该居民发送的客服消息已达上限；答复已记录。",
    "network": "暂时无法连接微信服务器；答复已记录，可稍后重新发送。",
    "wechat_error": "微信拒绝了这条消息；答复已记录。",
}
_CODES = {45015: "outside_window", 43004: "unfollowed", 40003: "unfollowed",
          DEMO_MODE: "demo_mode", 45047: "limit", NETWORK_ERROR: "network"}  # fmt: skip


@dataclass(frozen=True)
class Outcome:
    feedback: Feedback
    delivered: bool
    reason: str | None  # a key of REASONS when not delivered
    errcode: int | None = None


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def handles_feedback(role: Role | str) -> bool:
    """Staff who answer 留言 (and admins) see them whole; others see numbers masked."""
    return Role(role) in (*ANSWER_ROLES, Role.admin)


def visible_to(role: Role | str) -> Callable[[str | None], str]:
    """What a 留言 (or its answer) shows to staff of ``role``."""
    whole = handles_feedback(role)
    return lambda text: (text or "") if whole else mask_personal(text or "")


def to_json(fb: Feedback, role: Role | str) -> dict[str, Any]:
    shown = visible_to(role)
    return {
        "id": fb.id, "openid": fb.openid, "text": shown(fb.text), "status": fb.status.value,
        "created_at": _iso(fb.created_at), "answer": fb.answer and shown(fb.answer),
        "answered_by": fb.answered_by, "answered_at": _iso(fb.answered_at),
    }  # fmt: skip


async def leave_feedback(openid: str, text: str) -> Feedback:
    """Record a resident's 留言; one over ``MAX_MESSAGE`` is refused whole, never cut."""
    text = text.strip()
    if not text:
        raise Invalid("empty", "留言内容不能为空")
    if len(text) > MAX_MESSAGE:
        raise Invalid(
            "too_long",
            f"留言最多 {MAX_MESSAGE} 字，您这条有 {len(text)} 字，未能保存。"
            "请精简后再发，或分成几条发送（每条以“留言”开头）。",
        )
    return await Feedback.create(openid=openid, text=text)


async def list_feedback(
    status: FeedbackStatus | None,
    page: int,
    per_page: int,
    *,
    text: str = "",
    created_before: dt.datetime | None = None,
) -> tuple[int, list[Feedback]]:
    """Newest first; ``total`` counts every match, not just this page.

    ``text`` finds 留言 or answers containing it; ``created_before`` keeps older ones
    (with ``status=new`` and ``now - REPLY_TARGET``: those overdue).
    """
    query = Feedback.filter(status=status) if status else Feedback.all()
    if text:
        query = query.filter(Q(text__icontains=text) | Q(answer__icontains=text))
    if created_before is not None:
        query = query.filter(created_at__lt=created_before)
    total = await query.count()
    items = await query.order_by("-id").offset((page - 1) * per_page).limit(per_page)
    return total, list(items)


async def _last_delivery(feedback_id: int, conn: Any) -> bool | None:
    """What became of the latest answer: True sent or sending, False not delivered, None none."""
    entry = (
        await AuditEntry.filter(
            object_type="feedback", object_id=str(feedback_id), action__in=ANSWER_ACTIONS
        )
        .using_db(conn)
        .order_by("-id")
        .first()
    )
    if entry is None:
        return None
    return entry.detail.get("delivered") is not False


async def answer_feedback(services: Services, feedback_id: int, answer: str, who: Actor) -> Outcome:
    """Record ``answer``, then try to deliver it; WeChat refusals are outcomes, not errors."""
    answer = answer.strip()
    if not answer:
        raise Invalid("invalid", "答复内容不能为空")
    if len(answer) > MAX_ANSWER:
        raise Invalid("invalid", f"答复不能超过 {MAX_ANSWER} 字")
    name = who.name
    now = dt.datetime.now(dt.UTC)
    async with in_transaction() as conn:
        fb = await Feedback.filter(id=feedback_id).using_db(conn).select_for_update().first()
        if fb is None:
            raise NotFound("not_found", f"没有编号为 {feedback_id} 的留言")
        if fb.status != FeedbackStatus.new and await _last_delivery(fb.id, conn) is not False:
            raise Conflict("conflict", "该留言已答复（或已关闭），不能重复答复")
        fb.answer, fb.answered_by, fb.answered_at = answer, name, now
        fb.status = FeedbackStatus.answered
        await fb.save(
            using_db=conn, update_fields=["answer", "answered_by", "answered_at", "status"]
        )
        # Written before sending: a concurrent second answer sees "sending" and is refused.
        entry = await audit.record(
            who, "feedback.answer", "feedback", fb.id, conn=conn, delivered=None
        )
    delivered, reason, errcode = await _deliver(services, fb, now)
    # The trail is append-only (hash-chained): the outcome is an entry of its own.
    await audit.record(who, "feedback.delivery", "feedback", fb.id, delivered=delivered,
                       reason=reason, errcode=errcode, answer=entry.id)  # fmt: skip
    log.info(
        "feedback answered",
        extra={"feedback": fb.id, "actor": name, "delivered": delivered, "reason": reason},
    )
    return Outcome(fb, delivered, reason, errcode)


async def _deliver(
    services: Services, fb: Feedback, now: dt.datetime
) -> tuple[bool, str | None, int | None]:
    if not services.api.enabled:
        return False, "demo_mode", None
    resident = await Subscriber.get_or_none(openid=fb.openid)
    if resident is not None and not resident.following:
        return False, "unfollowed", None
    if (
        resident is None
        or resident.last_active_at is None
        or now - resident.last_active_at > WINDOW
    ):
        return False, "outside_window", None
    text = f"您的留言（编号 {fb.id}）已有答复：\n{fb.answer}\n\n如有疑问，请再次发送“留言 …”或拨打 12345。"
    try:
        await services.api.send_custom_text(fb.openid, text)
    except WeChatError as exc:
        log.warning("answer not delivered", extra={"feedback": fb.id, "errcode": exc.code})
        return False, _CODES.get(exc.code, "wechat_error"), exc.code
    return True, None, None
