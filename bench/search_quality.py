"""Search quality on a gold set: recall@3, MRR@5, share of must-find-nothing
queries answered with nothing, per query kind, and the coverage
distributions the "nothing found" threshold is chosen from.

    python bench/search_quality.py                       # content/ + tests/search/gold.yaml
    python bench/search_quality.py --content DIR --gold FILE [--db postgres://…] [-v]

The content folder is imported with ``policybot content sync`` semantics into
a fresh database (a temporary SQLite file unless ``--db`` is given).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import db  # noqa: E402
from bot.catalog.sync import sync_content  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.search import SearchIndex  # noqa: E402
from bot.search.evaluate import (  # noqa: E402
    catalog_ids,
    describe,
    describe_passages,
    evaluate,
    load_gold,
    passage_outcomes,
    sweep,
)


async def run(content: Path, gold_path: Path, url: str, verbose: bool) -> int:
    settings = Settings.model_validate({"database": {"url": url}, "content": {"dir": str(content)}})
    await db.init_database(url)
    try:
        report_sync = await sync_content(content, settings)
        print(f"content: {content} ({report_sync.summary()})")
        search = SearchIndex(settings)
        started = time.perf_counter()
        await search.start()
        print(
            f"index: {search.stats()['documents']} documents in {time.perf_counter() - started:.2f} s"
        )
        try:
            gold = load_gold(gold_path)
            catalog = await catalog_ids()
            report = evaluate(search, gold, catalog)
            table = sweep(search, gold, catalog)
            passages = await passage_outcomes(search, gold)
        finally:
            await search.stop()
    finally:
        await db.close_database()
    print(f"gold: {gold_path}")
    print(describe(report, verbose=verbose))
    print(describe_passages(passages, verbose))
    print()
    print("the same figures as the nothing-found threshold moves:")
    print(table)
    ok = report.recall_at(3) >= 0.9 and report.mrr_at(5) >= 0.8 and report.nothing_share >= 0.9
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--content", type=Path, default=ROOT / "content")
    parser.add_argument("--gold", type=Path, default=ROOT / "tests" / "search" / "gold.yaml")
    parser.add_argument("--db", default="", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every miss")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite://{tmp}/quality.sqlite3"
        return asyncio.run(run(args.content, args.gold, url, args.verbose))


if __name__ == "__main__":
    raise SystemExit(main())
