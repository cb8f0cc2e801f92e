"""Push persistence: campaigns, their sends (runs) and one delivery row per
resident per send, written before WeChat is called."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model


class Channel(StrEnum):
    template = "template"  # one template (or 订阅通知) message per resident
    mass = "mass"  # mass send by WeChat tag
    customer = "customer"  # customer-service message, residents active in the last 48 h
    sms = "sms"  # Tencent Cloud SMS to residents who gave a phone with consent
    email = "email"  # email to residents who gave an address with consent


class CampaignState(StrEnum):
    draft = "draft"
    approved = "approved"
    scheduled = "scheduled"
    sending = "sending"
    done = "done"
    cancelled = "cancelled"
    failed = "failed"


class RunState(StrEnum):
    pending = "pending"  # waiting for its time
    sending = "sending"
    done = "done"
    cancelled = "cancelled"
    missed = "missed"  # the service was down past the grace window
    merged = "merged"  # fired again while an earlier run waited out quiet hours
    failed = "failed"


class DeliveryState(StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"
    skipped = "skipped"


class Campaign(Model):
    """What an editor wants sent, to whom, how and when."""

    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=128)
    text = fields.TextField(default="")
    policy_id = fields.CharField(max_length=80, null=True)
    interpretation_id = fields.CharField(max_length=80, null=True)
    audience = fields.JSONField[dict[str, Any]](
        default=dict
    )  # {topics: [...], regions: [...], everyone: bool}
    channel = fields.CharEnumField(Channel)
    send_at = fields.DatetimeField(null=True)  # first (or only) run, UTC
    cron = fields.CharField(max_length=128, null=True)  # repeat rule in server.timezone
    template_id = fields.CharField(max_length=128, null=True)
    # Channels (sms, email) for residents the WeChat channel could not reach, in order.
    fallback = fields.JSONField[list[str]](default=list)
    fallback_delay = fields.IntField(default=0)  # seconds after a WeChat send ends
    state = fields.CharEnumField(CampaignState, default=CampaignState.draft, db_index=True)
    author = fields.CharField(max_length=64)
    approver = fields.CharField(max_length=64, null=True)
    approved_at = fields.DatetimeField(null=True)  # cron runs missed before this are not owed
    audience_count = fields.IntField(default=0)  # as counted at creation or last change
    last_error = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    runs: fields.ReverseRelation[CampaignRun]

    class Meta:
        table = "campaign"


class CampaignRun(Model):
    """One send of a campaign: its audience is frozen into deliveries when it starts."""

    id = fields.IntField(primary_key=True)
    campaign: fields.ForeignKeyRelation[Campaign] = fields.ForeignKeyField(
        "models.Campaign", related_name="runs", on_delete=fields.CASCADE
    )
    campaign_id: int
    # scheduled | test | followup | retry | fallback-sms | fallback-email
    kind = fields.CharField(max_length=16, default="scheduled")
    channel = fields.CharEnumField(Channel, null=True)  # a fallback's channel (else the campaign's)
    scheduled_for = fields.DatetimeField(db_index=True)
    state = fields.CharEnumField(RunState, default=RunState.pending, db_index=True)
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)
    note = fields.TextField(null=True)
    mass_tag_id = fields.IntField(null=True)  # mass sends to one topic go to its WeChat tag
    materialized = fields.BooleanField(default=False)  # every delivery row written
    total = fields.IntField(default=0)  # delivery rows written for this send
    created_by = fields.CharField(
        max_length=64, null=True
    )  # who asked (tests, follow-ups, retries)

    class Meta:
        table = "campaign_run"
        unique_together = (("campaign", "kind", "scheduled_for"),)


class Delivery(Model):
    """One resident in one send, written before WeChat is called."""

    id = fields.BigIntField(primary_key=True)
    run: fields.ForeignKeyRelation[CampaignRun] = fields.ForeignKeyField(
        "models.CampaignRun", related_name="deliveries", on_delete=fields.CASCADE
    )
    run_id: int
    campaign_id = fields.IntField(db_index=True)
    channel = fields.CharEnumField(Channel, default=Channel.template)
    openid = fields.CharField(max_length=64, db_index=True)
    chunk = fields.IntField(
        null=True
    )  # mass sends: the call (tag or openid list) this row rides in
    state = fields.CharEnumField(DeliveryState, default=DeliveryState.pending)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(null=True)
    claimed_by = fields.CharField(max_length=64, null=True)
    claimed_until = fields.DatetimeField(null=True)
    error_code = fields.IntField(null=True)
    error_message = fields.CharField(max_length=255, null=True)  # or the reason it was skipped
    wechat_msgid = fields.CharField(
        max_length=64, null=True, db_index=True
    )  # or the provider's id (SMS SerialNo), matched by delivery reports
    reason = fields.CharField(max_length=64, null=True)  # the provider's stable code for a refusal
    sent_at = fields.DatetimeField(null=True)
    delivered_at = fields.DatetimeField(null=True)  # the provider's report: reached the phone
    opened = fields.BooleanField(default=False)  # the tracked link was visited (nothing else kept)

    class Meta:
        table = "delivery"
        unique_together = (("run", "openid"),)
        indexes = (("run_id", "state", "next_attempt_at"),)


class TagMember(Model):
    """Our mirror of WeChat's tagging: this resident carries this tag on WeChat.

    Reconciling subscriptions against this table tells which residents to tag
    or untag without reading every tag's member list back from WeChat.
    """

    id = fields.IntField(primary_key=True)
    tag_id = fields.IntField(db_index=True)
    openid = fields.CharField(max_length=64)

    class Meta:
        table = "tag_member"
        unique_together = (("tag_id", "openid"),)


class PushCursor(Model):
    """Where a resumable job (followers sync) stopped, so a rerun picks up there."""

    name = fields.CharField(max_length=64, primary_key=True)
    value = fields.TextField(default="")
    done = fields.IntField(default=0)  # items handled so far, for progress
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "push_cursor"


class NoticeState(StrEnum):
    pending = "pending"  # published; the push worker has not prepared the campaign yet
    preparing = "preparing"  # a worker claimed it
    prepared = "prepared"  # a campaign exists (draft for review, or approved by auto_notify)
    skipped = "skipped"  # nothing to send: no topics, nobody subscribed, an old document


class PolicyNotice(Model):
    """The one notice of a newly published policy: its subscribers hear of a policy
    and its interpretations once. An edit or a second publish finds this row."""

    policy_id = fields.CharField(max_length=80, primary_key=True)
    state = fields.CharEnumField(NoticeState, default=NoticeState.pending, db_index=True)
    campaign_id = fields.IntField(null=True)  # the campaign prepared for it
    note = fields.CharField(max_length=255, default="")  # why it was skipped, or what went wrong
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "policy_notice"
