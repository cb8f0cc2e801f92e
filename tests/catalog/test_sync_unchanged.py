"""``content sync`` skips what it already holds: an unchanged file is neither parsed nor
rendered nor written, yet every rule across files and every problem stays as it was."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.catalog import render, sync
from bot.catalog.loader import Reader, file_hash, load_content
from bot.catalog.models import Interpretation, Policy, Status
from bot.catalog.sync import SyncReport, sync_content
from bot.models import AuditEntry

HOUSING = "qjf-2024-11-public-rental-housing"  # requires its interpretation
HOUSING_FILE = f"policies/{HOUSING}.md"
HOUSING_JD = f"interpretations/jd-{HOUSING}.md"
DIBAO = "policies/qzb-2024-12-dibao-standard.md"


@dataclass
class Spy:
    """Which files sync parsed and how many bodies it rendered."""

    parsed: list[str] = field(default_factory=list)
    rendered: list[str] = field(default_factory=list)

    def clear(self) -> None:
        self.parsed.clear()
        self.rendered.clear()


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Spy:
    seen = Spy()
    document, render_many, render_markdown = (
        Reader.document,
        render.render_many,
        render.render_markdown,
    )

    def parse(self: Reader, rel: str, kind: Any, raw: bytes | None = None) -> Any:
        seen.parsed.append(rel)
        return document(self, rel, kind, raw)

    def rendering_many(texts: list[str]) -> list[str]:
        seen.rendered.extend(texts)
        return render_many(texts)

    def rendering(text: str) -> str:
        seen.rendered.append(text)
        return render_markdown(text)

    # sync's own rendering (consultations render their sections as they are read)
    monkeypatch.setattr(Reader, "document", parse)
    monkeypatch.setattr(render, "render_many", rendering_many)
    monkeypatch.setattr(sync, "render_markdown", rendering)
    return seen


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _same_problems_as_check(report: SyncReport, content: Path) -> None:
    """Sync reports exactly what ``content check`` (which reads every file) finds."""
    assert [str(p) for p in report.problems] == [str(p) for p in load_content(content).problems]


async def _rows() -> dict[str, tuple[Any, ...]]:
    policies = await Policy.all().values_list("id", "status", "body_html", "updated_at")
    interps = await Interpretation.all().values_list("id", "status", "body_html", "updated_at")
    return {row[0]: row for row in [*policies, *interps]}


async def test_unchanged_sync_parses_renders_and_changes_nothing(
    database: str, content: Path, spy: Spy
) -> None:
    first = await sync_content(content)
    assert first.errors == [] and spy.rendered
    before, audit = await _rows(), await AuditEntry.all().count()

    spy.clear()
    again = await sync_content(content)

    assert not again.changed
    assert again.unchanged["policy"] == first.created["policy"]
    assert again.unchanged["interpretation"] == first.created["interpretation"]
    assert spy.parsed == [] and spy.rendered == []
    assert await _rows() == before  # not even updated_at: the search index sees no change
    assert await AuditEntry.all().count() == audit
    _same_problems_as_check(again, content)


async def test_editing_one_file_renders_exactly_that_one(
    database: str, content: Path, spy: Spy
) -> None:
    await sync_content(content)
    before = await _rows()
    spy.clear()

    _replace(content / DIBAO, "一、最低生活保障标准", "一、最低生活保障新标准")
    report = await sync_content(content)

    assert report.updated["policy"] == 1 and report.updated["interpretation"] == 0
    assert len(spy.rendered) == 1 and "最低生活保障新标准" in spy.rendered[0]
    assert DIBAO in spy.parsed  # with, at most, the interpretations that lean on it
    assert all(p == DIBAO or p.startswith("interpretations/") for p in spy.parsed)
    after = await _rows()
    changed = {key for key in after if after[key] != before[key]}
    assert changed == {"qzb-2024-12-dibao-standard"}
    _same_problems_as_check(report, content)


async def test_a_file_changed_back_and_forth(database: str, content: Path, spy: Spy) -> None:
    await sync_content(content)
    original = (content / DIBAO).read_text(encoding="utf-8")
    html = (await Policy.get(id="qzb-2024-12-dibao-standard")).body_html

    _replace(content / DIBAO, "一、最低生活保障标准", "一、最低生活保障新标准")
    assert (await sync_content(content)).updated["policy"] == 1
    (content / DIBAO).write_text(original, encoding="utf-8")
    back = await sync_content(content)

    assert back.updated["policy"] == 1
    assert (await Policy.get(id="qzb-2024-12-dibao-standard")).body_html == html
    spy.clear()
    assert not (await sync_content(content)).changed and spy.parsed == []


async def test_unchanged_policy_whose_interpretation_went_is_judged_as_before(
    database: str, content: Path, spy: Spy
) -> None:
    """The policy file is unchanged, but 三同步 now fails: the same error, at the same
    line, as ``content check``; its published version stays; restored, all is as before."""
    await sync_content(content)
    kept = (content / HOUSING_JD).read_text(encoding="utf-8")
    (content / HOUSING_JD).unlink()

    for _ in range(2):  # reported again on the next sync too, not only once
        report = await sync_content(content)
        problems = [p for p in report.errors if p.path.endswith(HOUSING_FILE)]
        assert problems and "requires_interpretation" in problems[0].message
        assert problems[0].line > 1  # read in full: the line of the field
        _same_problems_as_check(report, content)
        assert (await Policy.get(id=HOUSING)).status == Status.published
        assert report.unpublished["interpretation"] == 1 or not report.changed

    (content / HOUSING_JD).write_text(kept, encoding="utf-8")
    report = await sync_content(content)
    assert report.errors == []
    assert report.updated["interpretation"] == 1 and report.updated["policy"] == 0
    spy.clear()
    assert not (await sync_content(content)).changed and spy.parsed == []


async def test_interpretation_moved_to_another_policy_links_right(
    database: str, content: Path
) -> None:
    """Skipped files still count in every rule: the unchanged policy left without its
    interpretation fails; the unchanged one it now explains gets it."""
    await sync_content(content)
    other = "qzb-2024-12-dibao-standard"
    _replace(content / HOUSING_JD, f"policy: {HOUSING}", f"policy: {other}")

    report = await sync_content(content)

    _same_problems_as_check(report, content)
    assert any(p.path.endswith(HOUSING_FILE) for p in report.errors)
    jd = await Interpretation.get(id=f"jd-{HOUSING}")
    assert jd.policy_id == other and jd.status == Status.published  # type: ignore[attr-defined]


async def test_new_file_taking_an_unchanged_files_id(database: str, content: Path) -> None:
    """A new file sorted first takes the id: the unchanged file is now the duplicate."""
    await sync_content(content)
    text = (content / DIBAO).read_text(encoding="utf-8")
    (content / "policies/aaa-copy.md").write_text(text, encoding="utf-8")

    report = await sync_content(content)

    _same_problems_as_check(report, content)
    duplicate = [p for p in report.errors if p.path.endswith(DIBAO)]
    assert duplicate and "重复" in duplicate[0].message and duplicate[0].line > 1
    row = await Policy.get(id="qzb-2024-12-dibao-standard")
    assert row.source_path == "policies/aaa-copy.md"


async def test_warnings_of_an_unchanged_file_are_reported_every_time(
    database: str, content: Path, spy: Spy
) -> None:
    _replace(content / DIBAO, "\ntitle:", "\nnewer_field: 1\ntitle:")
    await sync_content(content)
    spy.clear()
    for _ in range(2):
        report = await sync_content(content)
        assert not report.changed
        assert any("newer_field" in p.message for p in report.problems)
        _same_problems_as_check(report, content)
    assert DIBAO in spy.parsed  # a file with a problem is read in full each time


async def test_areas_changed_checks_every_policy_again(
    database: str, content: Path, spy: Spy
) -> None:
    await sync_content(content)
    spy.clear()
    _replace(content / "areas.yaml", "name: 保障性住房", "name: 住房保障")

    report = await sync_content(content)

    _same_problems_as_check(report, content)
    assert any(p.path.endswith(HOUSING_FILE) and "保障性住房" in p.message for p in report.problems)
    assert HOUSING_FILE in spy.parsed


async def test_database_from_before_skipping_is_checked_once_not_rewritten(
    database: str, content: Path, spy: Spy
) -> None:
    """Rows written before ``checked_hash`` existed hold the plain file hash: the next
    sync reads those files in full but rewrites nothing; the one after skips them."""
    await sync_content(content)
    for model in (Policy, Interpretation):
        for row in await model.filter(source_path__isnull=False):
            raw = (content / str(row.source_path)).read_bytes()
            digest = file_hash(str(row.source_path), raw)
            await model.filter(id=row.id).update(content_hash=digest)
    before = await _rows()
    spy.clear()

    report = await sync_content(content)
    assert not report.changed and spy.parsed and spy.rendered == []
    assert await _rows() == before

    spy.clear()
    assert not (await sync_content(content)).changed and spy.parsed == []
