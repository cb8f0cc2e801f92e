"""The gold set (tests/search/gold.yaml) meets its targets, and SQLite and
PostgreSQL give the same answers for the same content. The full figures,
per query kind and with score distributions: bench/search_quality.py."""

from __future__ import annotations

import shutil
from pathlib import Path

from bot import db
from bot.catalog.sync import sync_content
from bot.config import Settings
from bot.search import SearchIndex
from bot.search.evaluate import Report, catalog_ids, evaluate, load_gold
from tests.conftest import CONTENT, _pg_truncate, _run

GOLD = Path(__file__).parent / "gold.yaml"


async def _answers(url: str) -> tuple[list[tuple[str, list[str], list[float]]], Report]:
    settings = Settings.model_validate(
        {"database": {"url": url}, "content": {"dir": str(CONTENT)}, "search": {"index_dir": ""}}
    )
    async with db.database(url):
        await sync_content(CONTENT, settings)
        search = SearchIndex(settings)
        await search.start()
        try:
            catalog = await catalog_ids()
            report = evaluate(search, load_gold(GOLD), catalog)
            names = {v: k for k, v in catalog.items()}
            answers = []
            for o in report.outcomes:
                hits = search.search_sync(o.query.q)
                answers.append(
                    (
                        o.query.q,
                        [names.get(h.id, h.id) if h.kind == "catalog_item" else h.id for h in hits],
                        [round(h.score, 4) for h in hits],
                    )
                )
        finally:
            await search.stop()
    return answers, report


async def test_gold_set_targets_on_both_databases(
    sqlite_template: Path, pg_database: str, tmp_path: Path
) -> None:
    sqlite = tmp_path / "gold.sqlite3"
    shutil.copy(sqlite_template, sqlite)
    _run(_pg_truncate(pg_database))
    on_sqlite, report = await _answers(f"sqlite://{sqlite}")
    assert len(report.outcomes) >= 80
    assert report.recall_at(3) >= 0.90
    assert report.mrr_at(5) >= 0.80
    assert report.nothing_share >= 0.90
    on_postgres, _ = await _answers(pg_database)
    assert on_postgres == on_sqlite
