"""Core persistence: residents, their subscriptions and feedback, and the rows
that let several processes share one database safely (handled callbacks,
the shared access token, leases, the audit trail).

Catalog models live in ``bot.catalog.models``, push models in
``bot.push.models``; all three form the single Tortoise app ``models``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model


class Subscriber(Model):
    """A resident who follows (or once followed) the account."""

    openid = fields.CharField(max_length=64, primary_key=True)
    following = fields.BooleanField(default=True, db_index=True)  # false after unfollow
    region = fields.CharField(max_length=64, null=True, db_index=True)  # town or street (地区 X)
    wechat_tags = fields.JSONField[list[Any]](
        default=list
    )  # tag ids seen in the last followers sync
    followed_at = fields.DatetimeField(null=True)
    unfollowed_at = fields.DatetimeField(null=True)
    last_active_at = fields.DatetimeField(
        null=True, db_index=True
    )  # last message or click (48 h window)
    blocked_reason = fields.CharField(max_length=128, null=True)  # permanent refusal seen by a send
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    subscriptions: fields.ReverseRelation[Subscription]

    class Meta:
        table = "subscriber"


class Subscription(Model):
    """One resident subscribed to one topic."""

    id = fields.IntField(primary_key=True)
    subscriber: fields.ForeignKeyRelation[Subscriber] = fields.ForeignKeyField(
        "models.Subscriber", related_name="subscriptions", on_delete=fields.CASCADE
    )
    topic: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Topic", related_name="subscriptions", on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "subscription"
        unique_together = (("subscriber", "topic"),)


class FeedbackStatus(StrEnum):
    new = "new"
    answered = "answered"
    closed = "closed"


class Feedback(Model):
    """A 留言 from a resident, read and answered by staff."""

    id = fields.IntField(primary_key=True)
    openid = fields.CharField(max_length=64, db_index=True)
    text = fields.TextField()
    status = fields.CharEnumField(FeedbackStatus, default=FeedbackStatus.new, db_index=True)
    answer = fields.TextField(null=True)
    answered_by = fields.CharField(max_length=64, null=True)
    answered_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "feedback"


class HandledMessage(Model):
    """A callback already answered, so that WeChat retries get the stored reply back."""

    key = fields.CharField(max_length=160, primary_key=True)  # MsgId, or openid+time+event
    reply = fields.TextField(null=True)  # JSON of the reply, null while being handled
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "handled_message"


class AccessToken(Model):
    """The access token of the account, shared by every process."""

    appid = fields.CharField(max_length=64, primary_key=True)
    token = fields.CharField(max_length=512)
    expires_at = fields.DatetimeField()
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "access_token"


class Lease(Model):
    """A named, expiring lock held by one process (token refresh, schedulers)."""

    name = fields.CharField(max_length=128, primary_key=True)
    holder = fields.CharField(max_length=128)
    expires_at = fields.DatetimeField()

    class Meta:
        table = "lease"


class AuditEntry(Model):
    """Who changed what, when: publishing, campaigns, feedback answers."""

    id = fields.IntField(primary_key=True)
    actor = fields.CharField(max_length=64)
    role = fields.CharField(max_length=16)
    action = fields.CharField(max_length=64, db_index=True)
    object_type = fields.CharField(max_length=32)
    object_id = fields.CharField(max_length=128, db_index=True)
    detail = fields.JSONField[dict[str, Any]](default=dict)
    at = fields.DatetimeField(auto_now_add=True, db_index=True)
    address = fields.CharField(max_length=64, default="")  # client address, when known
    prev_hash = fields.CharField(max_length=64, unique=True)  # the previous entry's ``hash``
    hash = fields.CharField(max_length=64, unique=True)  # sha256 of prev_hash + this entry

    class Meta:
        table = "audit_entry"
        ordering = ["-id"]


class MoreResults(Model):
    """A resident's last search that had more results than one reply shows, so that
    “更多” can show the rest from any process. Cleared when the rest were shown."""

    openid = fields.CharField(max_length=64, primary_key=True)
    query = fields.CharField(max_length=200)  # what the resident asked
    shown = fields.IntField(default=0)  # results already shown
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "more_results"


class RateCounter(Model):
    """Events counted in one fixed time window (failed logins, 留言), shared by every process."""

    key = fields.CharField(max_length=160, primary_key=True)  # what, who and the window's number
    count = fields.IntField(default=0)
    expires = fields.BigIntField(db_index=True)  # Unix time after which the row can go

    class Meta:
        table = "rate_counter"
