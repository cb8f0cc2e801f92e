"""Search speed and memory at 1,000, 10,000 and 100,000 generated documents on
SQLite and PostgreSQL: index build time, memory, query latency p50/p95/max,
the cost of one refresh poll, and publish → findable through a refresh.

    python bench/search_speed.py                              # all sizes, both databases
    python bench/search_speed.py --sizes 1000,10000 --dbs sqlite
    python bench/search_speed.py --pg postgres://postgres@127.0.0.1:5432

Documents are generated from the vocabulary of content/ (words drawn with
their frequency there, so common words are common): 80 % policies (title,
5 keywords, summary, ~600-character body), 10 % interpretations, 10 % catalog
rows. Queries: the gold set's queries plus random 1–3 word queries from the
same vocabulary, each run 3 times after a warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import itertools
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import frontmatter  # noqa: E402

from bot import db  # noqa: E402
from bot.catalog.models import CatalogItem, Interpretation, Policy, Status, Validity  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.search import SearchIndex  # noqa: E402
from bot.search.evaluate import load_gold  # noqa: E402
from bot.search.text import analyzer, normalize  # noqa: E402

BATCH = 2000
ISSUERS = [
    "县人民政府办公室",
    "县民政局",
    "县住房和城乡建设局",
    "县农业农村局",
    "县医疗保障局",
    "县人力资源和社会保障局",
    "县自然资源局",
    "县教育局",
    "县卫生健康局",
    "县退役军人事务局",
    "县应急管理局",
    "县综合行政执法局",
]
ABBR = [
    "青政办",
    "青政发",
    "青民发",
    "青建发",
    "青农发",
    "青医保发",
    "青人社发",
    "青自然资发",
    "青教发",
    "青卫健发",
]
KINDS_OF_DOC = ["实施办法", "管理办法", "实施细则", "实施方案", "的通知", "工作规程", "暂行办法"]
AREAS = [
    "社会救助",
    "养老服务",
    "保障性住房",
    "农村危房改造",
    "征地补偿",
    "涉农补贴",
    "就业",
    "社会保险",
    "义务教育",
]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def vocabulary() -> tuple[list[str], list[float]]:
    """Content words of the sample policies with their frequencies."""
    tools = analyzer()
    counts: Counter[str] = Counter()
    for path in sorted((ROOT / "content").glob("*/*.md")):
        post = frontmatter.load(path)
        text = normalize(
            " ".join([str(post.get("title", "")), str(post.get("summary", "")), post.content])
        )
        counts.update(t for t in tools.tokenizer.lcut(text) if len(t) > 1 and tools._keep(t))
    words = [w for w, _ in counts.most_common()]
    return words, [float(counts[w]) for w in words]


class Generator:
    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.words, weights = vocabulary()
        self.cum = list(itertools.accumulate(weights))

    def pick(self, k: int) -> list[str]:
        return self.rng.choices(self.words, cum_weights=self.cum, k=k)

    def sentence(self, n: int) -> str:
        return "".join(self.pick(n)) + self.rng.choice(["，", "。", "；"])

    def text(self, chars: int) -> str:
        out: list[str] = []
        size = 0
        while size < chars:
            s = self.sentence(self.rng.randint(4, 9))
            out.append(s)
            size += len(s)
        return "".join(out)

    def policy(self, i: int) -> Policy:
        year = self.rng.randint(2015, 2026)
        title = (
            "青山县" + "".join(self.pick(self.rng.randint(2, 4))) + self.rng.choice(KINDS_OF_DOC)
        )
        lapsed = self.rng.random() < 0.1
        return Policy(
            id=f"gen-{i}",
            title=title[:255],
            issuer="青山" + self.rng.choice(ISSUERS),
            written_on=dt.date(year, self.rng.randint(1, 12), self.rng.randint(1, 28)),
            published_on=dt.date(year, self.rng.randint(1, 12), self.rng.randint(1, 28)),
            doc_number=f"{self.rng.choice(ABBR)}〔{year}〕{self.rng.randint(1, 300)}号",
            keywords=list(dict.fromkeys(self.pick(5))),
            summary=self.text(70),
            body_md=self.text(600),
            status=Status.published,
            validity=Validity.repealed if lapsed else Validity.valid,
        )

    def interpretation(self, i: int, policy_id: str) -> Interpretation:
        return Interpretation(
            id=f"gen-jd-{i}",
            title="《" + "".join(self.pick(3)) + "》政策解读",
            policy_id=policy_id,
            body_md=self.text(500),
            status=Status.published,
            published_on=dt.date(2024, 1, 1),
        )

    def catalog(self, i: int) -> CatalogItem:
        return CatalogItem(
            area=self.rng.choice(AREAS),
            seq=str(i),
            level1="".join(self.pick(2)),
            level2="".join(self.pick(2)),
            content=self.text(40),
            basis=self.text(30),
            subject="青山" + self.rng.choice(ISSUERS),
            source_path=f"catalog/gen-{i // 1000}.csv",
            source_line=i,
        )

    def queries(self, n: int) -> list[str]:
        return ["".join(self.pick(self.rng.randint(1, 3))) for _ in range(n)]


async def populate(gen: Generator, total: int) -> None:
    policies = int(total * 0.8)
    interps = int(total * 0.1)
    items = total - policies - interps
    for start in range(0, policies, BATCH):
        await Policy.bulk_create(
            [gen.policy(i) for i in range(start, min(policies, start + BATCH))]
        )
    for start in range(0, interps, BATCH):
        await Interpretation.bulk_create(
            [
                gen.interpretation(i, f"gen-{i * 7 % policies}")
                for i in range(start, min(interps, start + BATCH))
            ]
        )
    for start in range(0, items, BATCH):
        await CatalogItem.bulk_create(
            [gen.catalog(i) for i in range(start, min(items, start + BATCH))]
        )


def percentile(values: list[float], p: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, round(p / 100 * (len(v) - 1)))]


async def measure(url: str, size: int, gen: Generator, queries: list[str]) -> dict[str, float]:
    settings = Settings.model_validate(
        {
            "database": {"url": url},
            "content": {"dir": str(ROOT / "content")},
            "search": {"index_dir": ""},  # the build itself is measured (bench/startup.py: loads)
        }
    )
    async with db.database(url):
        started = time.perf_counter()
        await populate(gen, size)
        insert_s = time.perf_counter() - started
        await asyncio.to_thread(analyzer)
        gc.collect()
        before = rss_mb()
        search = SearchIndex(settings)
        started = time.perf_counter()
        await search.start()
        build_s = time.perf_counter() - started
        gc.collect()
        after = rss_mb()
        try:
            for q in queries[:50]:
                search.search_sync(q)
            latencies = []
            for _ in range(3):
                for q in queries:
                    t = time.perf_counter()
                    search.search_sync(q)
                    latencies.append((time.perf_counter() - t) * 1000)
            polls = []
            for _ in range(10):
                t = time.perf_counter()
                await search.refresh()
                polls.append((time.perf_counter() - t) * 1000)
            await asyncio.sleep(0.01)
            t = time.perf_counter()
            await Policy.create(
                id="bench-new",
                title="青山县古树名木保护管理办法",
                issuer="青山县林业局",
                written_on=dt.date(2026, 1, 1),
                status=Status.published,
                keywords=["古树名木"],
                summary="古树名木挂牌保护。",
                body_md="古树名木。",
            )
            await search.refresh()
            publish_ms = (time.perf_counter() - t) * 1000
            assert search.search_sync("古树名木")[0].id == "bench-new"
            stats = search.stats()
        finally:
            await search.stop()
    return {
        "insert_s": insert_s,
        "build_s": build_s,
        "rss_mb": after - before,
        "index_mb": stats["bytes"] / 2**20,
        "terms": stats["terms"],
        "p50": statistics.median(latencies),
        "p95": percentile(latencies, 95),
        "max": max(latencies),
        "poll_ms": statistics.median(polls),
        "publish_ms": publish_ms,
    }


async def pg_database(admin: str) -> str:
    name = f"policybot_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(f"{admin}/postgres")
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return name


async def drop_pg(admin: str, name: str) -> None:
    conn = await asyncpg.connect(f"{admin}/postgres")
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await conn.close()


async def one(kind: str, size: int, pg: str) -> dict[str, float]:
    """One measurement, in a process of its own so memory figures are its own."""
    gen = Generator()
    gen.rng.seed(size)
    gold = [g.q for g in load_gold(ROOT / "tests" / "search" / "gold.yaml")]
    queries = gold + gen.queries(100)
    with tempfile.TemporaryDirectory() as tmp:
        name = ""
        if kind == "sqlite":
            url = f"sqlite://{tmp}/bench.sqlite3"
        else:
            name = await pg_database(pg)
            url = f"{pg}/{name}"
        try:
            return await measure(url, size, gen, queries)
        finally:
            if name:
                await drop_pg(pg, name)


def run(sizes: list[int], dbs: list[str], pg: str) -> None:
    print("queries per round: gold set + 100 random 1-3 word queries; 3 rounds after a warm-up")
    print("RSS MB: the process's resident memory growth while loading and indexing")
    print()
    header = (
        f"{'db':<9}{'docs':>8}{'insert s':>10}{'build s':>9}{'RSS MB':>8}{'postings MB':>12}"
        f"{'terms':>8}{'p50 ms':>8}{'p95 ms':>8}{'max ms':>8}{'poll ms':>9}{'publish→found ms':>17}"
    )
    print(header)
    print("-" * len(header), flush=True)
    for kind in dbs:
        for size in sizes:
            out = subprocess.run(
                [sys.executable, __file__, "--one", f"{kind}:{size}", "--pg", pg],
                capture_output=True,
                text=True,
                check=False,
            )
            if out.returncode != 0:
                print(f"{kind:<9}{size:>8}  failed:\n{out.stderr[-2000:]}", flush=True)
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"{kind:<9}{size:>8}{r['insert_s']:>10.1f}{r['build_s']:>9.1f}{r['rss_mb']:>8.0f}"
                f"{r['index_mb']:>12.1f}{r['terms']:>8}{r['p50']:>8.2f}{r['p95']:>8.2f}{r['max']:>8.1f}"
                f"{r['poll_ms']:>9.2f}{r['publish_ms']:>17.1f}",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--dbs", default="sqlite,postgres")
    parser.add_argument(
        "--pg", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server (admin)"
    )
    parser.add_argument("--one", default="", help=argparse.SUPPRESS)  # kind:size, run in a child
    args = parser.parse_args()
    if args.one:
        kind, size = args.one.split(":")
        print(json.dumps(asyncio.run(one(kind, int(size), args.pg.rstrip("/")))))
        return
    run([int(s) for s in args.sizes.split(",")], args.dbs.split(","), args.pg.rstrip("/"))


if __name__ == "__main__":
    main()
