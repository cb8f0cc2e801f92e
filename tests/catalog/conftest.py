"""Fixtures of the catalog tests: a connected database of each kind, a copy of the sample content."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot import db
from tests.conftest import CONTENT


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[str]:
    async with db.database(db_url):
        yield db_url


@pytest.fixture
def content(tmp_path: Path) -> Path:
    """The sample content, copied so that a test may edit it."""
    root = tmp_path / "content"
    shutil.copytree(CONTENT, root)
    return root
