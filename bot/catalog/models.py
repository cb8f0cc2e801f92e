"""Catalog persistence: policies, their interpretations, the standard
disclosure catalog, pilot areas and subscribable topics."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model


class Validity(StrEnum):
    valid = "有效"
    expired = "失效"
    repealed = "废止"


class Disclosure(StrEnum):
    proactive = "主动公开"
    on_request = "依申请公开"


class Status(StrEnum):
    """Publishing workflow of a document."""

    draft = "draft"
    review = "review"  # submitted, waiting for a reviewer
    published = "published"
    unpublished = "unpublished"  # withdrawn (its content file was removed)


class InterpretationForm(StrEnum):
    text = "文字解读"
    image = "图片解读"
    graphic = "图解"
    video = "视频解读"
    interview = "访谈解读"
    media = "媒体报道"


class Area(Model):
    """One of the 26 pilot areas of 基层政务公开标准化规范化."""

    id = fields.CharField(max_length=64, primary_key=True)
    name = fields.CharField(max_length=64, unique=True)
    aliases = fields.JSONField[list[Any]](default=list)
    position = fields.IntField(default=0)

    class Meta:
        table = "area"
        ordering = ["position"]


class Topic(Model):
    """A subscribable topic, mapped to a WeChat tag for mass sends."""

    id = fields.CharField(max_length=64, primary_key=True)
    name = fields.CharField(max_length=30, unique=True)
    aliases = fields.JSONField[list[Any]](default=list)
    areas = fields.JSONField[list[Any]](default=list)  # area ids this topic covers
    position = fields.IntField(default=0)
    wechat_tag_id = fields.IntField(null=True)  # the WeChat tag kept in sync with subscribers

    class Meta:
        table = "topic"
        ordering = ["position"]


class Policy(Model):
    """A policy document (政策文件) with the metadata residents and auditors expect."""

    id = fields.CharField(max_length=80, primary_key=True)  # stable, used in URLs
    title = fields.CharField(max_length=255)
    issuer = fields.CharField(max_length=128, db_index=True)  # 发布机构
    written_on = fields.DateField(db_index=True)  # 成文日期
    published_on = fields.DateField(null=True, db_index=True)  # 发布日期
    doc_number = fields.CharField(max_length=64, null=True)  # 文号
    index_number = fields.CharField(max_length=64, null=True)  # 索引号
    keywords = fields.JSONField[list[Any]](default=list)
    summary = fields.TextField(default="")
    body_md = fields.TextField(default="")
    body_html = fields.TextField(default="")  # rendered and sanitised once, on save
    validity = fields.CharEnumField(Validity, default=Validity.valid, db_index=True)
    expires_on = fields.DateField(null=True)
    replaced_by = fields.CharField(max_length=80, null=True)  # id of the policy replacing it
    disclosure = fields.CharEnumField(Disclosure, default=Disclosure.proactive)
    requires_interpretation = fields.BooleanField(default=False)
    # who it is for (政策找人): bot.eligibility.conditions' stored form, or None
    eligibility = fields.JSONField[dict[str, Any]](null=True)
    status = fields.CharEnumField(Status, default=Status.draft, db_index=True)
    source_path = fields.CharField(max_length=255, null=True)  # content file it came from
    content_hash = fields.CharField(max_length=64, default="")
    #: number of the version residents see (0: never published by the service)
    version = fields.IntField(default=0)
    #: when the service first published it (disclosure lateness counts from here)
    published_at = fields.DatetimeField(null=True)
    #: files shown on the page: [{"file", "title"}] (see ``bot.catalog.attachments``)
    attachments = fields.JSONField[list[Any]](default=list)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True, db_index=True)

    areas: fields.ManyToManyRelation[Area] = fields.ManyToManyField(
        "models.Area", related_name="policies", through="policy_area"
    )
    topics: fields.ManyToManyRelation[Topic] = fields.ManyToManyField(
        "models.Topic", related_name="policies", through="policy_topic"
    )
    interpretations: fields.ReverseRelation[Interpretation]
    versions: fields.ReverseRelation[PolicyVersion]

    class Meta:
        table = "policy"


class VersionState(StrEnum):
    """Workflow of one version of a policy package (the policy and its interpretations)."""

    draft = "draft"
    review = "review"  # submitted, waiting for a reviewer
    published = "published"  # what residents see now
    superseded = "superseded"  # published once, replaced by a later version


class PolicyVersion(Model):
    """One version of a policy package made in the console or the admin API.

    ``snapshot`` holds every field, the body and the interpretations exactly as
    written, and ``content_hash`` is its digest, which a reviewer's approval must
    carry (four-eyes bound to what was reviewed). Published versions stay as
    the history of the policy. At most one version is being worked on.
    """

    id = fields.IntField(primary_key=True)
    policy: fields.ForeignKeyRelation[Policy] = fields.ForeignKeyField(
        "models.Policy", related_name="versions", on_delete=fields.CASCADE
    )
    number = fields.IntField()  # 1, 2, … per policy
    state = fields.CharEnumField(VersionState, default=VersionState.draft, db_index=True)
    snapshot = fields.JSONField[dict[str, Any]](default=dict)
    content_hash = fields.CharField(max_length=64)
    authors = fields.JSONField[list[Any]](default=list)  # everyone who wrote into this version
    submitted_by = fields.CharField(max_length=64, null=True)
    published_by = fields.CharField(max_length=64, null=True)
    published_at = fields.DatetimeField(null=True)
    published_on = fields.DateField(null=True)  # the 发布日期 it went out with
    #: the reviewer's reason when sending it back, shown to the authors
    sent_back_reason = fields.CharField(max_length=500, default="")
    sent_back_by = fields.CharField(max_length=64, null=True)
    sent_back_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "policy_version"
        unique_together = (("policy", "number"),)


class Interpretation(Model):
    """A 政策解读 paired with one policy and published in sync with it."""

    id = fields.CharField(max_length=80, primary_key=True)
    title = fields.CharField(max_length=255)
    policy: fields.ForeignKeyRelation[Policy] = fields.ForeignKeyField(
        "models.Policy", related_name="interpretations", on_delete=fields.RESTRICT
    )
    form = fields.CharEnumField(InterpretationForm, default=InterpretationForm.text)
    issuer = fields.CharField(max_length=128, default="")
    published_on = fields.DateField(null=True)
    media_url = fields.CharField(max_length=512, null=True)
    body_md = fields.TextField(default="")
    body_html = fields.TextField(default="")
    status = fields.CharEnumField(Status, default=Status.draft, db_index=True)
    source_path = fields.CharField(max_length=255, null=True)
    content_hash = fields.CharField(max_length=64, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True, db_index=True)

    class Meta:
        table = "interpretation"


class CatalogItem(Model):
    """A row of the 政务公开事项标准目录."""

    id = fields.IntField(primary_key=True)
    area = fields.CharField(max_length=64, db_index=True)  # area name
    seq = fields.CharField(max_length=16, default="")  # 序号
    level1 = fields.CharField(max_length=128)  # 一级事项
    level2 = fields.CharField(max_length=255, default="")  # 二级事项
    content = fields.TextField(default="")  # 公开内容
    basis = fields.TextField(default="")  # 公开依据
    time_limit = fields.CharField(max_length=255, default="")  # 公开时限
    subject = fields.CharField(max_length=255, default="")  # 公开主体
    channel = fields.CharField(max_length=255, default="")  # 公开渠道和载体
    audience = fields.CharField(max_length=64, default="")  # 公开对象
    method = fields.CharField(max_length=64, default="")  # 公开方式
    source_path = fields.CharField(max_length=255)
    source_line = fields.IntField(default=0)
    published = fields.BooleanField(default=True, db_index=True)
    updated_at = fields.DatetimeField(auto_now=True, db_index=True)  # read by the search index

    class Meta:
        table = "catalog_item"
        unique_together = (("source_path", "seq", "level1", "level2"),)


class ContentEntry(Model):
    """A content file that is one value rather than rows (the menu, regions, synonyms,
    holidays), as ``content sync`` validated and stored it. Every process reads
    this, never the file, so an edit takes effect everywhere through sync."""

    name = fields.CharField(max_length=32, primary_key=True)  # see bot.catalog.stored.ENTRIES
    data = fields.JSONField[Any](null=True)
    updated_at = fields.DatetimeField(auto_now=True, db_index=True)  # read by the search index

    class Meta:
        table = "content_entry"
