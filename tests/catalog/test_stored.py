"""One source of truth: menu.yaml, regions.yaml, synonyms and holidays reach every
process through ``content sync``, never by being read again from disk."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.catalog.deadlines import stored_calendar
from bot.catalog.sync import sync_content
from bot.config import Settings
from bot.handlers import handle
from bot.handlers.types import Incoming, TextReply
from bot.services import Services, open_services


@pytest.fixture
async def two_processes(settings: Settings, content: Path) -> AsyncIterator[list[Services]]:
    """Two sets of services on one database, as a web and a worker process would be."""
    local = settings.model_copy(
        update={"content": settings.content.model_copy(update={"dir": content})}
    )
    async with open_services(local) as one, open_services(local) as two:
        yield [one, two]


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


async def _say(services: Services, text: str, kind: str = "text") -> str:
    message = Incoming(kind=kind, openid="o-stored", created_at=datetime.now(UTC), text=text)
    _, reply = await handle(services, message)
    assert isinstance(reply, TextReply)
    return reply.text


async def test_menu_and_regions_take_effect_through_sync_in_every_process(
    two_processes: list[Services], content: Path
) -> None:
    one, two = two_processes
    await sync_content(content)
    for services in two_processes:
        assert "留言 我家房子是C级危房" in await _say(services, "FEEDBACK_HELP", "click")
        assert "城关镇" in await _say(services, "地区 城关")

    _edit(content / "menu.yaml", "有问题想咨询？", "受理时间：工作日 8:30-17:30。有问题想咨询？")
    _edit(
        content / "regions.yaml",
        "- name: 城关镇\n  aliases: [城关]",
        "- name: 城关街道\n  aliases: [城关]",
    )
    # An edited file alone changes nothing: what sync stored is what every process answers.
    assert "受理时间" not in await _say(one, "FEEDBACK_HELP", "click")
    assert "城关镇" in await _say(two, "地区 城关")

    report = await sync_content(content)
    assert report.updated["menu"] == 1 and report.updated["regions"] == 1
    for services in two_processes:
        assert "受理时间" in await _say(services, "FEEDBACK_HELP", "click")
        assert "“城关街道”" in await _say(services, "地区 城关")


async def test_broken_menu_keeps_the_stored_one_and_synonyms_reach_every_index(
    two_processes: list[Services], content: Path
) -> None:
    await sync_content(content)
    _edit(content / "menu.yaml", "key: FEEDBACK_HELP", "key: HELP")  # a duplicate key
    (content / "synonyms.txt").write_text("农村危房改造 老屋翻修\n", encoding="utf-8")
    report = await sync_content(content)
    assert any("menu.yaml" in p.path and "重复" in p.message for p in report.errors)
    assert report.updated["synonyms"] == 1 and not report.updated["menu"]
    for services in two_processes:
        assert "留言" in await _say(services, "FEEDBACK_HELP", "click")  # the last good menu
        await services.search.refresh()  # each index notices the stored change by its marker
        hits = await services.search.search("老屋翻修")
        assert hits and hits[0].id == "qjf-2025-4-rural-housing-safety"


async def test_holidays_reach_the_deadline_calendar_through_sync(
    settings: Settings, content: Path
) -> None:
    async with open_services(settings):
        assert (await stored_calendar()).is_workday(dt.date(2099, 1, 5))[0]
        _edit(content / "holidays.yaml", "holidays:", "holidays:\n  - 2099-01-05")
        await sync_content(content)
        assert not (await stored_calendar()).is_workday(dt.date(2099, 1, 5))[0]
