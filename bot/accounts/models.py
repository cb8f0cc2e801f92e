"""Staff accounts and what hangs off them: sessions, failed log-ins, test recipients."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Account(Model):
    """A named member of staff who logs in to the console."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=64, unique=True)  # log-in name, shown in the audit trail
    role = fields.CharField(max_length=16)  # publisher | editor | reviewer | admin
    department = fields.CharField(max_length=128, default="")  # 发布机构 the account works for
    password_hash = fields.CharField(max_length=255)  # argon2id, never the password
    must_change_password = fields.BooleanField(default=True)  # set on create and on reset
    disabled = fields.BooleanField(default=False)
    wechat_openid = fields.CharField(max_length=64, null=True, unique=True)  # bound for test sends
    binding_code = fields.CharField(
        max_length=64, null=True, unique=True
    )  # sha256 of the 绑定 code
    binding_expires_at = fields.DatetimeField(null=True)
    password_changed_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "account"
        ordering = ["name"]


class StaffSession(Model):
    """A console session: the cookie carries a random id, this row only its SHA-256."""

    id = fields.CharField(max_length=64, primary_key=True)  # sha256 hex of the cookie's id
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="sessions", on_delete=fields.CASCADE
    )
    csrf = fields.CharField(max_length=64)  # the forms' token for this session
    address = fields.CharField(max_length=64, default="")  # where it logged in from
    created_at = fields.DatetimeField(auto_now_add=True)
    last_seen_at = fields.DatetimeField(db_index=True)  # for the idle timeout

    class Meta:
        table = "staff_session"


class LoginFailure(Model):
    """One failed log-in, counted per account name and per address for the lockout."""

    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=160, db_index=True)  # ``account:NAME`` or ``address:IP``
    at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "login_failure"


class Tester(Model):
    """A named WeChat user an admin allowed to receive test sends, besides the staff themselves."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=64)
    openid = fields.CharField(max_length=64, unique=True)
    added_by = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "tester"
        ordering = ["name"]
