"""A policy's validity as residents should see it today.

``validity`` is what staff wrote; ``expires_on`` is the last day a policy
applies, so from the next day on it reads 失效 without anyone editing the
file or a job running: validity is worked out when it is read, in the
server's time zone. ``replaced_by`` chains are followed to the newest
published version (pages link to it, search can show it instead).
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from tortoise.expressions import Q

from bot.catalog.models import Policy, Status, Validity

MAX_HOPS = 10  # a replaced_by chain longer than this is a content mistake (or a loop)


class _HasValidity(Protocol):
    validity: Validity
    expires_on: dt.date | None


def effective_validity(policy: _HasValidity, today: dt.date) -> Validity:
    if policy.validity == Validity.valid and policy.expires_on and today > policy.expires_on:
        return Validity.expired
    return Validity(policy.validity)


def validity_filter(validity: Validity, today: dt.date) -> Q:
    """A query condition matching ``effective_validity(p, today) == validity``."""
    still_valid = Q(expires_on__isnull=True) | Q(expires_on__gte=today)
    if validity == Validity.valid:
        return Q(validity=Validity.valid) & still_valid
    if validity == Validity.expired:
        return Q(validity=Validity.expired) | Q(validity=Validity.valid, expires_on__lt=today)
    return Q(validity=validity)


async def current_version(policy: Policy) -> Policy:
    """Follow ``replaced_by`` to the newest published policy (the policy itself if none)."""
    seen = {policy.id}
    current = policy
    for _ in range(MAX_HOPS):
        if not current.replaced_by or current.replaced_by in seen:
            break
        nxt = await Policy.get_or_none(id=current.replaced_by, status=Status.published)
        if nxt is None:
            break
        seen.add(nxt.id)
        current = nxt
    return current
