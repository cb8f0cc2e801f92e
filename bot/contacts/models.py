"""How to reach a resident outside WeChat: a phone and an email given with consent.

Both are encrypted at rest (``bot.privacy``); the ``*_lookup`` columns hold a
keyed hash so that a TD reply or an unsubscribe link finds its row without
decrypting the table.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Contact(Model):
    """One resident's phone and email, with when they consented and when they said stop."""

    openid = fields.CharField(max_length=64, primary_key=True)
    phone = fields.TextField(null=True)  # Fernet token of +86…
    phone_lookup = fields.CharField(max_length=64, null=True, db_index=True)
    phone_consent_at = fields.DatetimeField(null=True)  # agreed to notices by SMS
    phone_verified_at = fields.DatetimeField(null=True)  # proved by a code (chat, H5)
    sms_stopped_at = fields.DatetimeField(null=True)  # replied TD, or the number is bad
    sms_stop_reason = fields.CharField(max_length=64, null=True)
    email = fields.TextField(null=True)  # Fernet token
    email_lookup = fields.CharField(max_length=64, null=True, db_index=True)
    email_consent_at = fields.DatetimeField(null=True)
    email_stopped_at = fields.DatetimeField(null=True)  # followed the unsubscribe link
    source = fields.CharField(max_length=16, default="chat")  # chat | h5 | staff
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "contact"


class ContactCode(Model):
    """A verification code sent by SMS to a number a resident typed in chat."""

    openid = fields.CharField(max_length=64, primary_key=True)
    phone = fields.TextField()  # Fernet token of the number being verified
    code_hash = fields.CharField(max_length=64)  # keyed hash of the 6 digits
    expires_at = fields.DatetimeField()
    tries = fields.IntField(default=0)  # wrong codes typed
    sent_at = fields.DatetimeField()

    class Meta:
        table = "contact_code"
