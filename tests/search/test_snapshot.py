"""The search index snapshot (issue 13 item 2): a restart or a second process
loads it instead of re-indexing, answers exactly as a full rebuild would, picks
up what was published while it was down, and rebuilds — never crashes — when
the snapshot is from another dictionary or damaged. Timings: bench/startup.py."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from bot.audit import Actor
from bot.catalog.models import Policy, Status
from bot.config import Settings
from bot.search import SearchIndex, rules, snapshot
from bot.search.evaluate import load_gold
from bot.services import open_services
from tests.conftest import CONTENT, ROOT

SETS = {
    "gold": (CONTENT, ROOT / "tests" / "search" / "gold.yaml"),
    "second_set": (ROOT / "tests/search/second_set", ROOT / "tests/search/second_set/gold.yaml"),
    "third_set": (ROOT / "tests/search/third_set", ROOT / "tests/search/third_set/gold.yaml"),
}


def _local(settings: Settings, tmp_path: Path, content: Path = CONTENT) -> Settings:
    folder = tmp_path / "content"
    if not folder.exists():
        shutil.copytree(content, folder)
    return settings.model_copy(
        update={
            "content": settings.content.model_copy(update={"dir": folder}),
            "search": settings.search.model_copy(update={"index_dir": str(tmp_path / "index")}),
        }
    )


def _answers(search: SearchIndex, queries: list[str]) -> list[tuple[Any, ...]]:
    out = []
    for q in queries:
        found = search.find_sync(q)
        out.append(
            (q, [(h.kind, h.id, round(h.score, 6)) for h in found.hits], found.fallback,
             found.corrected, found.intents)
        )  # fmt: skip
    return out


async def _second_process(settings: Settings) -> SearchIndex:
    other = SearchIndex(settings, poll_seconds=60)
    await other.start()
    return other


@pytest.mark.parametrize("name", list(SETS))
async def test_a_loaded_snapshot_answers_the_gold_sets_as_a_fresh_build(
    settings: Settings, tmp_path: Path, name: str
) -> None:
    content, gold = SETS[name]
    local = _local(settings, tmp_path, content)
    queries = [g.q for g in load_gold(gold)]
    async with open_services(local, sync_content=True) as services:
        assert not services.search.loaded_from_snapshot  # nothing on disk yet: built
        assert (tmp_path / "index" / snapshot.POINTER).is_file()
        built = _answers(services.search, queries)
        other = await _second_process(local)
        try:
            assert other.loaded_from_snapshot
            assert _answers(other, queries) == built
            assert len(other.index or ()) == len(services.search.index or ())
        finally:
            await other.stop()
    assert sum(bool(hits) for _q, hits, *_ in built) >= 0.5 * len(queries)


async def test_documents_published_and_withdrawn_while_down_are_seen_after_restart(
    settings: Settings, tmp_path: Path
) -> None:
    local = _local(settings, tmp_path)
    queries = ["低保", "古树名木", "危房改造", "养老保险"]
    async with open_services(local, sync_content=True) as services:
        withdrawn = services.search.search_sync("低保")[0]
    # While this service is down (another process without a snapshot stays up and
    # refreshes): one policy published, the best 低保 answer withdrawn.
    async with open_services(local.model_copy(update={"search": settings.search})) as services:
        await Policy.create(
            id="new-trees",
            title="青山县古树名木保护管理办法",
            issuer="青山县林业局",
            written_on=dt.date(2026, 1, 1),
            status=Status.published,
            keywords=["古树名木"],
            summary="古树名木挂牌保护。",
            body_md="古树名木。",
        )
        await Policy.filter(id=withdrawn.id).update(
            status=Status.unpublished, updated_at=dt.datetime.now(dt.UTC)
        )
        await services.search.refresh()
        stayed_up = _answers(services.search, queries)
    async with open_services(local) as services:
        assert services.search.loaded_from_snapshot
        assert [h.id for h in services.search.search_sync("古树名木")][:1] == ["new-trees"]
        assert withdrawn.id not in [h.id for h in services.search.search_sync("低保")]
        restarted = _answers(services.search, queries)
    assert restarted == stayed_up  # exactly what a process that never stopped answers
    fresh = local.model_copy(update={"search": settings.search})  # no snapshot: a full build
    async with open_services(fresh) as services:
        assert not services.search.loaded_from_snapshot
        rebuilt = _answers(services.search, queries)
    # The same documents in the same order; scores differ in the last digits, as in
    # any process that indexed a change incrementally (idf counts the replaced slot).
    assert [[h[:2] for h in hits] for _q, hits, *_ in restarted] == [
        [h[:2] for h in hits] for _q, hits, *_ in rebuilt
    ]


@pytest.mark.parametrize(
    "damage", ["truncated postings", "garbage meta", "missing directory", "older format"]
)
async def test_a_damaged_snapshot_is_rebuilt_not_fatal(
    settings: Settings, tmp_path: Path, damage: str
) -> None:
    local = _local(settings, tmp_path)
    async with open_services(local, sync_content=True) as services:
        before = _answers(services.search, ["低保", "危房改造", "高龄津贴"])
    index = tmp_path / "index"
    current = index / (index / snapshot.POINTER).read_text()
    if damage == "truncated postings":
        data = (current / "slots.npy").read_bytes()
        (current / "slots.npy").write_bytes(data[: len(data) // 2])
    elif damage == "garbage meta":
        (current / "meta.json").write_bytes(b"\x00{not json")
    elif damage == "older format":  # format 1 kept the rows as one JSON list in infos.bin
        meta = json.loads((current / "meta.json").read_bytes())
        (current / "meta.json").write_text(json.dumps({**meta, "format": 1}))
        (current / "rows.npy").rename(current / "infos.bin")
    else:
        shutil.rmtree(current)
    async with open_services(local) as services:
        assert not services.search.loaded_from_snapshot
        assert _answers(services.search, ["低保", "危房改造", "高龄津贴"]) == before
    async with open_services(local) as services:  # the rebuild wrote a good one again
        assert services.search.loaded_from_snapshot


async def test_a_changed_dictionary_or_staff_rule_invalidates_the_snapshot(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = _local(settings, tmp_path)
    async with open_services(local, sync_content=True) as services:
        assert await services.search.search("拾掇院子") == []
        await rules.add_synonym("拾掇院子", ["危房改造"], Actor("王芳", "editor"))
    async with open_services(local) as services:
        # The rule's words are in the analyser's dictionary: documents are cut anew.
        assert not services.search.loaded_from_snapshot
        assert await services.search.search("拾掇院子")
    async with open_services(local) as services:
        assert services.search.loaded_from_snapshot

    # A word added to a dictionary file changes the key as well.
    data = tmp_path / "data"
    shutil.copytree(snapshot.DATA, data)  # type: ignore[arg-type]
    monkeypatch.setattr(snapshot, "DATA", data)
    key = snapshot.version_key(["低保"], [], local.database.url)
    with (data / "userdict.txt").open("a", encoding="utf-8") as f:
        f.write("\n古树名木 10 n\n")
    assert snapshot.version_key(["低保"], [], local.database.url) != key
    assert snapshot.version_key(["低保", "高龄"], [], local.database.url) != key
    assert snapshot.version_key(["低保"], [["低保", "最低生活保障"]], local.database.url) != key


async def test_a_snapshot_that_cannot_be_written_does_not_stop_the_service(
    settings: Settings, tmp_path: Path
) -> None:
    local = _local(settings, tmp_path)
    (tmp_path / "index").write_text("a file where the directory should be")
    async with open_services(local, sync_content=True) as services:
        assert services.search.search_sync("低保")  # built and answering all the same
        assert not await services.search.save_snapshot()
