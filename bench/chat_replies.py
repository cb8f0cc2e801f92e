"""How long search replies are on a phone: bytes (WeChat's limit is 2048),
text lines, entries and bare URLs per reply, over the gold set's queries, for
the reply format in use and for the previous one (five entries, raw URLs).

    python bench/chat_replies.py [--content DIR] [--gold FILE]

A phone shows about 17 Chinese characters on one line of a chat bubble; the
"screen lines" figure wraps each text line at that width, counting a link as
its title only (WeChat shows the title, not the address).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import db  # noqa: E402
from bot.catalog.sync import sync_content  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.search import SearchIndex  # noqa: E402
from bot.search.evaluate import load_gold  # noqa: E402
from bot.search.reply import format_results  # noqa: E402

BUBBLE_CHARS = 17
LINK = re.compile(r'<a href="[^"]+">([^<]*)</a>')


def screen_lines(text: str) -> int:
    shown = LINK.sub(r"\1", text)
    return sum(max(1, -(-len(line) // BUBBLE_CHARS)) for line in shown.split("\n"))


def previous_format(query: str, hits: list) -> str:
    """The earlier reply: five entries, each with up to three raw URLs."""
    parts = [f"为您找到与“{query}”相关的内容："]
    for n, hit in enumerate(hits[:5], start=1):
        lines = [f"{n}. {hit.title}", hit.doc_number or (hit.date or ""), hit.url]
        lines += [f"解读：{url}" for _t, url, _f in hit.interpretations[:2]]
        parts.append("\n".join(line for line in lines if line))
    return "\n\n".join(parts)


def figures(name: str, replies: list[str]) -> None:
    sizes = [len(r.encode()) for r in replies]
    lines = [screen_lines(r) for r in replies]
    urls = [len(re.findall(r"https?://\S+", LINK.sub("", r))) for r in replies]
    print(
        f"{name:>9}: bytes p50 {statistics.median(sizes):.0f} max {max(sizes)} · "
        f"screen lines p50 {statistics.median(lines):.0f} max {max(lines)} · "
        f"bare URLs p50 {statistics.median(urls):.0f} max {max(urls)}"
    )


async def run(content: Path, gold: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite://{tmp}/bench.sqlite3"
        settings = Settings.model_validate(
            {"database": {"url": url}, "content": {"dir": str(content)}}
        )
        await db.init_database(url)
        try:
            await sync_content(content, settings)
            search = SearchIndex(settings)
            await search.start()
            now, before, more = [], [], 0
            for case in load_gold(gold):
                hits = await search.search(case.q, 15)
                if not hits:
                    continue
                text, shown = format_results(case.q, hits)
                now.append(text)
                before.append(previous_format(case.q, hits))
                more += shown < len(hits)
            await search.stop()
        finally:
            await db.close_database()
    print(f"{len(now)} queries with results; {more} offer “更多”")
    figures("previous", before)
    figures("now", now)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--content", type=Path, default=ROOT / "content")
    parser.add_argument("--gold", type=Path, default=ROOT / "tests" / "search" / "gold.yaml")
    args = parser.parse_args()
    asyncio.run(run(args.content, args.gold))


if __name__ == "__main__":
    main()
