"""Masking of personal numbers in residents' 留言 for staff who do not handle them.

Residents write ID card and phone numbers into 留言 despite being asked not
to; staff who answer need them, everyone else sees them masked (身份证号
keeps its first and last two characters, phone numbers their first three and
last four digits, bank cards their last four).
"""

from __future__ import annotations

import re

# Digits not glued to other digits, so part of a longer number is not taken for one.
_ID_CARD = re.compile(r"(?<![0-9A-Za-z])([1-9]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])\d{2}\d{3}[\dXx]|[1-9]\d{14})(?![0-9A-Za-z])")  # fmt: skip
_BANK_CARD = re.compile(r"(?<!\d)(\d{4}[ -]?\d{4}[ -]?\d{4}[ -]?\d{4}(?:[ -]?\d{1,3})?)(?!\d)")
_MOBILE = re.compile(r"(?<!\d)((?:\+?86[ -]?)?1[3-9]\d[ -]?\d{4}[ -]?\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3}[ -]?\d{7,8})(?!\d)")


def _digits(number: str) -> str:
    return re.sub(r"[ -]", "", number)


def _keep(number: str, head: int, tail: int) -> str:
    digits = _digits(number)
    return digits[:head] + "*" * (len(digits) - head - tail) + digits[len(digits) - tail :]


def mask_personal(text: str) -> str:
    """``text`` with ID card, bank card, mobile and landline numbers masked."""
    text = _ID_CARD.sub(lambda m: _keep(m.group(1), 2, 2), text)
    text = _BANK_CARD.sub(lambda m: _keep(m.group(1), 0, 4), text)
    text = _MOBILE.sub(lambda m: _keep(re.sub(r"^\+?86", "", _digits(m.group(1))), 3, 4), text)
    return _LANDLINE.sub(lambda m: _keep(m.group(1), 4, 2), text)
