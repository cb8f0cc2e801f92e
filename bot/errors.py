"""Refusals that know nothing of HTTP; the web edge maps each kind to a status."""

from __future__ import annotations


class DomainError(Exception):
    """A refusal a user should read: ``code`` is stable, ``message`` is Chinese."""

    status_kind = (
        "invalid"  # bad_request | invalid | not_found | conflict | forbidden | unavailable
    )

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class BadRequest(DomainError):
    status_kind = "bad_request"  # 400


class Invalid(DomainError):
    status_kind = "invalid"  # 422


class NotFound(DomainError):
    status_kind = "not_found"  # 404


class Conflict(DomainError):
    status_kind = "conflict"  # 409


class Forbidden(DomainError):
    status_kind = "forbidden"  # 403


class Unavailable(DomainError):
    status_kind = "unavailable"  # 503
