"""Least privilege beyond roles: departments for drafts, masking for who handles 留言."""

from __future__ import annotations

from typing import Protocol

from bot.catalog.models import Policy
from bot.config import Role
from bot.feedback.answers import ANSWER_ROLES


class Staff(Protocol):
    @property
    def role(self) -> Role: ...

    @property
    def department(self) -> str: ...


def can_edit_policy(user: Staff, policy: Policy) -> bool:
    """Admins edit any policy; a publisher only those of their own department (谁起草谁解读).
    An edit is always a new version that goes through review, whatever the policy's state."""
    if user.role == Role.admin:
        return True
    return (
        user.role == Role.publisher and bool(user.department) and policy.issuer == user.department
    )


def handles_feedback(user: Staff) -> bool:
    """Whether 留言 and residents' personal data are shown to ``user`` unmasked."""
    return user.role == Role.admin or user.role in ANSWER_ROLES
