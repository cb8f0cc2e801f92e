"""The Tencent Cloud SMS stand-in on loopback, in the test's own loop."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.sms.fake import FakeSms, FakeSmsConfig, serve_fake_sms
from tests.processes import free_port


@pytest.fixture
async def fake_sms() -> AsyncIterator[FakeSms]:
    runner, state = await serve_fake_sms(free_port(), FakeSmsConfig())
    try:
        yield state
    finally:
        await runner.cleanup()
