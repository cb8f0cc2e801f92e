"""When 政策找人 works: matching policies whose rule is new or changed at every push
reconcile, reminders once a day, and forgetting unfinished checks nobody agreed to keep."""

from __future__ import annotations

import datetime as dt
import logging

from tortoise.expressions import Q

from bot.config import Settings
from bot.eligibility import notify
from bot.eligibility.models import EligibilityCheck
from bot.push.models import PushCursor

log = logging.getLogger("bot.eligibility")
CURSOR = "eligibility:reminders"  # the local day reminders last ran


async def eligibility_due(settings: Settings, now: dt.datetime) -> None:
    """Called by the push scheduler's reconcile; a failure here never stops pushes."""
    try:
        await notify.prepare_pending(settings, now)
        today = now.astimezone(settings.server.tz).date().isoformat()
        await PushCursor.get_or_create(name=CURSOR, defaults={"value": ""})
        claimed = await PushCursor.filter(name=CURSOR).exclude(value=today).update(value=today)
        if claimed:  # one worker, once a day
            await notify.remind(settings, now)
            stale = now - dt.timedelta(hours=settings.eligibility.session_hours)
            unconsented = Q(consent=False) | Q(consent__isnull=True)
            await EligibilityCheck.filter(unconsented, updated_at__lt=stale).delete()
    except Exception:
        log.exception("eligibility matching failed")
