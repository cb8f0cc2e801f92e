"""政策找人 persistence. Residents' answers are personal data: kept only encrypted
(``bot.privacy``), only with consent beyond one check, and deleted on request."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class ResidentProfile(Model):
    """A consenting resident's answers (encrypted JSON ``{attribute: value}``)."""

    openid = fields.CharField(max_length=64, primary_key=True)
    data = fields.TextField()  # Fernet token of the answers
    consented_at = fields.DatetimeField()
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "resident_profile"


class EligibilityCheck(Model):
    """A 政策体检 under way in chat, so it survives processes and can be resumed.

    Without consent it is deleted when the check ends (or after
    ``eligibility.session_hours`` unfinished)."""

    openid = fields.CharField(max_length=64, primary_key=True)
    data = fields.TextField()  # Fernet token of {answers, skipped}
    consent = fields.BooleanField(null=True)  # None: not asked yet
    asking = fields.CharField(max_length=32, null=True)  # the attribute the last reply asked
    paused = fields.BooleanField(default=False)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "eligibility_check"


class EligibilityNotice(Model):
    """A resident was (or is about to be) told of a policy: once per kind per policy.

    ``kind`` is ``match`` (the policy was published or changed and they may
    qualify) or ``reminder`` (a birthday or an ``apply_by`` ahead). ``batch``
    names the campaign's audience (``{"eligibility": batch}``)."""

    id = fields.BigIntField(primary_key=True)
    openid = fields.CharField(max_length=64)
    policy_id = fields.CharField(max_length=80)
    kind = fields.CharField(max_length=16)
    batch = fields.CharField(max_length=40, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "eligibility_notice"
        unique_together = (("openid", "policy_id", "kind"),)


class EligibilityRound(Model):
    """The last rule of a policy residents were matched against: a published or
    changed rule (another ``rule_hash``) is matched again; the same one is not."""

    policy_id = fields.CharField(max_length=80, primary_key=True)
    rule_hash = fields.CharField(max_length=64, default="")  # "" : announced, not matched yet
    note = fields.CharField(max_length=255, default="")
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "eligibility_round"
