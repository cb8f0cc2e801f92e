"""What residents could not find, and the fixes staff made for it."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class MissKind(StrEnum):
    nothing = "nothing"  # answered "没有找到"
    fallback = "fallback"  # answered with documents about the life event only


class SearchMiss(Model):
    """A query that found nothing or only a fallback, counted, never who asked."""

    id = fields.IntField(primary_key=True)
    query = fields.CharField(max_length=200, unique=True)  # as typed, trimmed
    kind = fields.CharEnumField(MissKind, default=MissKind.nothing)
    count = fields.IntField(default=1)
    first_seen = fields.DatetimeField(auto_now_add=True)
    last_seen = fields.DatetimeField(auto_now=True, db_index=True)
    resolved_by = fields.CharField(max_length=64, null=True)  # who added the fix

    class Meta:
        table = "search_miss"


class SearchRule(Model):
    """A fix staff made: ``word`` also means ``terms`` (a synonym, read at query
    time, so it works at once), or a 关键词 that makes one document findable."""

    id = fields.IntField(primary_key=True)
    word = fields.CharField(max_length=64, db_index=True)
    terms = fields.JSONField[list[str]](default=list)  # a synonym: what the word stands for
    doc_kind = fields.CharField(max_length=32, null=True)  # a keyword: the document it is on
    doc_id = fields.CharField(max_length=80, null=True, db_index=True)
    created_by = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True, db_index=True)

    class Meta:
        table = "search_rule"
