"""Reach beyond "sent": what providers report back (delivered) and what residents do (TD).

Tencent posts SMS status reports (``sid`` = the ``SerialNo`` we stored) and
residents' replies to our callbacks; a reply of ``TD`` (or 退订, R, T, N)
stops SMS to that number at once, as Chinese rules for marketing SMS require.
"""

from __future__ import annotations

import logging
from typing import Any

from bot import contacts
from bot.errors import Invalid
from bot.metrics import PUSH_REACH
from bot.push.clock import utcnow
from bot.push.models import CampaignRun, Channel, Delivery

log = logging.getLogger("bot.push")

STOP_WORDS = frozenset({"TD", "T", "R", "N", "退订", "取消", "拒收"})


async def sms_reports(reports: Any) -> int:
    """Record Tencent's status reports (a JSON list); returns the deliveries marked delivered."""
    if not isinstance(reports, list):
        raise Invalid("invalid", "状态报告应为 JSON 数组")
    delivered, failed = [], {}
    for report in reports:
        if not isinstance(report, dict) or not isinstance(report.get("sid"), str):
            continue
        if report.get("report_status") == "SUCCESS":
            delivered.append(report["sid"])
        else:
            failed[report["sid"]] = f"undelivered:{str(report.get('errmsg') or '')[:48]}"
    marked = 0
    if delivered:
        marked = await Delivery.filter(
            channel=Channel.sms, wechat_msgid__in=delivered, delivered_at__isnull=True
        ).update(delivered_at=utcnow())
        PUSH_REACH.labels("sms", "delivered").inc(marked)
    if failed:
        PUSH_REACH.labels("sms", "undelivered").inc(len(failed))
    for sid, reason in failed.items():
        await Delivery.filter(channel=Channel.sms, wechat_msgid=sid).update(reason=reason)
    return marked


async def sms_reply(reply: Any) -> bool:
    """A resident's SMS reply; True when it stopped SMS to the number."""
    if not isinstance(reply, dict) or not isinstance(reply.get("mobile"), str):
        raise Invalid("invalid", "上行短信应为含 mobile 的 JSON 对象")
    text = str(reply.get("text") or "").strip().upper()
    if text not in STOP_WORDS:
        return False
    try:
        stopped = await contacts.stop_sms(phone=reply["mobile"], reason="replied TD")
    except Invalid:
        return False  # not a mainland number we could have sent to
    log.info("sms stopped by reply", extra={"stopped": stopped})
    return True


async def wechat_template_finished(msg_id: str, status: str) -> int:
    """TEMPLATESENDJOBFINISH: WeChat says whether the template message reached the resident."""
    qs = Delivery.filter(channel=Channel.template, wechat_msgid=msg_id)
    if status == "success":
        marked = await qs.filter(delivered_at__isnull=True).update(delivered_at=utcnow())
        PUSH_REACH.labels("template", "delivered").inc(marked)
        return marked
    PUSH_REACH.labels("template", "undelivered").inc()
    return await qs.update(reason=f"undelivered:{status}"[:64])


async def wechat_mass_finished(msg_id: str, report: dict[str, Any]) -> int:
    """MASSSENDJOBFINISH: WeChat's counts for one mass send (it names no residents)."""
    counts = {
        k: int(report.get(k) or 0) for k in ("TotalCount", "FilterCount", "SentCount", "ErrorCount")
    }
    rows = await Delivery.filter(channel=Channel.mass, wechat_msgid=msg_id).values_list(
        "run_id", flat=True
    )
    PUSH_REACH.labels("mass", "delivered").inc(counts["SentCount"])
    note = (
        f"WeChat mass {msg_id}: {report.get('Status')}, sent {counts['SentCount']} of "
        f"{counts['TotalCount']} (filtered {counts['FilterCount']}, errors {counts['ErrorCount']})"
    )
    for run_id in set(rows):
        run = await CampaignRun.get(id=run_id)
        await CampaignRun.filter(id=run_id).update(
            note=((run.note or "") + "\n" + note).strip()[:2000]
        )
    return counts["SentCount"]
