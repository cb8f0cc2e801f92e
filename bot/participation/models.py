"""Persistence of public participation: consultations and their comments, disclosure
requests, and the outbox that carries replies and notices to residents.

Personal data of applicants is stored sealed (``*_sealed``, Fernet; see
``bot.privacy``); nothing here is ever deleted — a hidden comment keeps its
text, and the reason it was hidden lives in the audit trail.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model


class ConsultationKind(StrEnum):
    major_decision = "重大行政决策"
    normative = "规范性文件"
    survey = "调研"


class ConsultationStatus(StrEnum):
    published = "published"
    unpublished = "unpublished"  # its file was removed, or staff withdrew it


class Consultation(Model):
    """A draft out for comment (征求意见) or a survey (调研)."""

    id = fields.CharField(max_length=80, primary_key=True)  #: [a-z0-9-]+, used in URLs
    title = fields.CharField(max_length=200)
    issuer = fields.CharField(max_length=128)  #: 起草部门 / 发布机构
    kind = fields.CharEnumField(ConsultationKind, max_length=16)
    opens_on = fields.DateField(db_index=True)
    closes_on = fields.DateField(db_index=True)  #: last day comments are taken
    shortened_reason = fields.TextField(null=True)  #: why the period is below the legal minimum
    topics = fields.JSONField[list[Any]](default=list)  #: topic ids
    areas = fields.JSONField[list[Any]](default=list)  #: area names
    intro_html = fields.TextField(default="")  #: text before the first ## heading
    sections = fields.JSONField[list[Any]](default=list)  #: [{number, heading, html, questions?}]
    body_md = fields.TextField(default="")
    status = fields.CharEnumField(ConsultationStatus, default=ConsultationStatus.published)
    source_path = fields.CharField(max_length=255, null=True)  #: content file, or null (console)
    content_hash = fields.CharField(max_length=64, null=True)
    report_text = fields.TextField(null=True)  #: 意见采纳情况 summary published with the report
    report_published_at = fields.DatetimeField(null=True)
    report_published_by = fields.CharField(max_length=64, null=True)
    opening_campaign_id = fields.IntField(null=True)  #: the campaign draft telling subscribers
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    comments: fields.ReverseRelation[Comment]

    class Meta:
        table = "consultation"
        ordering = ["-opens_on", "id"]


class CommentState(StrEnum):
    visible = "visible"
    hidden = "hidden"  # abuse or personal data; the reason is in the audit trail


class Decision(StrEnum):
    adopted = "采纳"
    partly = "部分采纳"
    rejected = "未采纳"


class Comment(Model):
    """One resident's comment on a consultation (or answers to a survey)."""

    id = fields.IntField(primary_key=True)  #: the number the resident is told
    consultation: fields.ForeignKeyRelation[Consultation] = fields.ForeignKeyField(
        "models.Consultation", related_name="comments", on_delete=fields.RESTRICT
    )
    openid = fields.CharField(max_length=64, db_index=True)
    via = fields.CharField(max_length=8, default="chat")  #: chat | page
    section = fields.CharField(max_length=80, null=True)  #: the section named (e.g. 第二条)
    text = fields.TextField()
    answers = fields.JSONField[dict[str, Any]](default=dict)  #: 调研: question number → answer
    state = fields.CharEnumField(CommentState, default=CommentState.visible, db_index=True)
    decision = fields.CharEnumField(Decision, max_length=8, null=True)
    reason = fields.TextField(null=True)  #: why it was (not) adopted
    decided_by = fields.CharField(max_length=64, null=True)
    decided_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "consultation_comment"
        ordering = ["id"]


class RequestState(StrEnum):
    received = "received"  # 已受理，办理中
    supplement = "supplement"  # 补正 asked: the clock stands still
    third_party = "third_party"  # 征求第三方意见: the clock stands still
    answered = "answered"


class DisclosureRequest(Model):
    """One 政府信息公开申请 (依申请公开), from the H5 form or registered by staff."""

    id = fields.IntField(primary_key=True)
    number = fields.CharField(max_length=32, unique=True)  #: 申请编号, e.g. YSQ2026-000012
    via = fields.CharField(max_length=8, default="online")  #: online | staff (post, in person)
    openid = fields.CharField(max_length=64, null=True, db_index=True)  #: the applicant's WeChat
    #: WeChat's web authorisation (or staff) vouched for ``openid``: chat answers it, replies go to it
    openid_verified = fields.BooleanField(default=False)
    applicant_type = fields.CharField(max_length=16)  #: 公民 | 法人或其他组织
    org_kind = fields.CharField(
        max_length=16, null=True
    )  #: 商业企业 | 科研机构 | … (annual report)
    name_sealed = fields.TextField()
    id_type = fields.CharField(max_length=32)
    id_number_sealed = fields.TextField()
    phone_sealed = fields.TextField()
    address_sealed = fields.TextField(null=True)
    email_sealed = fields.TextField(null=True)
    description = fields.TextField()  #: the information sought
    purpose = fields.TextField(null=True)
    delivery = fields.CharField(max_length=8)  #: 微信 | 电子邮件 | 邮寄 | 自行领取
    state = fields.CharEnumField(RequestState, default=RequestState.received, db_index=True)
    received_on = fields.DateField(db_index=True)
    due_on = fields.DateField(db_index=True)  #: kept current by every step of the clock
    due_estimated = fields.BooleanField(default=False)  #: counted partly on holidays.yaml
    extension_days = fields.IntField(default=0)
    extension_reason = fields.TextField(null=True)
    extension_approver = fields.CharField(max_length=64, null=True)
    supplement_what = fields.TextField(null=True)
    supplement_sent_on = fields.DateField(null=True)
    supplied_on = fields.DateField(null=True)
    pauses = fields.JSONField[list[Any]](default=list)  #: third-party waits [[since, until|null]]
    outcome = fields.CharField(max_length=8, null=True)  #: 予以公开 … 其他处理
    outcome_reason = fields.CharField(max_length=64, null=True)  #: the annual report's sub-reason
    reply_text = fields.TextField(null=True)
    attachments = fields.JSONField[list[Any]](default=list)  #: [{name, url}]
    replied_on = fields.DateField(null=True, db_index=True)
    replied_by = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "disclosure_request"
        ordering = ["-id"]


class OutboxState(StrEnum):
    pending = "pending"  # waiting for the worker
    sending = "sending"  # claimed by a worker until ``claimed_until``
    sent = "sent"
    failed = "failed"  # WeChat refused for good; staff see it and deliver another way
    no_channel = "no_channel"  # the channel (email) is not available here: pending delivery


class Outbox(Model):
    """A message to one resident, written in the transaction that made it necessary, so a
    crash between "recorded" and "delivered" loses nothing: a worker claims the row and
    delivers it after restart."""

    id = fields.IntField(primary_key=True)
    kind = fields.CharField(
        max_length=32
    )  #: disclosure.reply | disclosure.extend | consultation.report …
    object_id = fields.CharField(max_length=80, db_index=True)
    channel = fields.CharField(max_length=8)  #: wechat | email
    openid = fields.CharField(max_length=64, null=True)
    email_sealed = fields.TextField(null=True)
    text = fields.TextField()
    url = fields.CharField(max_length=512, null=True)
    state = fields.CharEnumField(OutboxState, default=OutboxState.pending, db_index=True)
    claimed_until = fields.DatetimeField(null=True)
    attempts = fields.IntField(default=0)
    errcode = fields.IntField(null=True)
    sent_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "participation_outbox"
        ordering = ["id"]
