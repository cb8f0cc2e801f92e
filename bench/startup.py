"""Search start-up at 100,000 generated policies (issue 13 item 2) on SQLite and
PostgreSQL: a cold start (no snapshot: the full jieba build, then the snapshot
written), a restart (the snapshot loaded, then refreshed from the change
marker), and a second process started while the first still runs (sharing its
memory-mapped postings). For each: seconds from spawning the process to its
first answer, ``SearchIndex.start()`` seconds, RSS and PSS (proportional set
size: shared pages divided between the processes mapping them) and private
anonymous memory after start, RSS and PSS again after the queries (which map
in the postings they read), search p95, and whether the answers equal the
cold build's.

    python bench/startup.py                                   # 100,000 docs, both databases
    python bench/startup.py --size 10000 --dbs sqlite
    python bench/startup.py --pg postgres://postgres@127.0.0.1:5432

Documents come from bench/search_speed.py's generator (80 % policies, 10 %
interpretations, 10 % catalog rows). Each phase runs in a process of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from search_speed import Generator, drop_pg, percentile, pg_database, populate  # noqa: E402

from bot import db  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.search import SearchIndex  # noqa: E402
from bot.search.evaluate import load_gold  # noqa: E402


def memory_mb() -> tuple[float, float, float]:
    """(RSS, PSS, private anonymous) of this process in MB; the last is what no
    other process can share (heap, Python objects), unlike mapped files."""
    found = {"Rss": 0.0, "Pss": 0.0, "Anonymous": 0.0}
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        name = line.split(":")[0]
        if name in found:
            found[name] = int(line.split()[1]) / 1024
    return found["Rss"], found["Pss"], found["Anonymous"]


async def child(url: str, index_dir: str, queries: list[str], hold: bool) -> None:
    """One process: start the index, answer, report; with ``hold``, stay up until stdin closes."""
    settings = Settings.model_validate(
        {
            "database": {"url": url},
            "content": {"dir": str(ROOT / "content")},
            "search": {"index_dir": index_dir},
        }
    )
    async with db.database(url):
        search = SearchIndex(settings, poll_seconds=3600)
        started = time.perf_counter()
        await search.start()
        start_s = time.perf_counter() - started
        search.find_sync(queries[0])
        answered_at = time.time()
        rss, pss, anon = memory_mb()
        digest = hashlib.sha256()
        for q in queries:
            found = search.find_sync(q)
            digest.update(repr([(h.kind, h.id, round(h.score, 6)) for h in found.hits]).encode())
        latencies = []
        for q in queries * 2:
            t = time.perf_counter()
            search.find_sync(q)
            latencies.append((time.perf_counter() - t) * 1000)
        rss_after, pss_after, _anon = memory_mb()
        result = {
            "answered_at": answered_at,
            "start_s": start_s,
            "loaded": search.loaded_from_snapshot,
            "docs": len(search.index or ()),
            "rss": rss,
            "pss": pss,
            "anon": anon,
            "rss_after": rss_after,  # after the queries: the postings they read are mapped in
            "pss_after": pss_after,
            "p50": statistics.median(latencies),
            "p95": percentile(latencies, 95),
            "digest": digest.hexdigest(),
        }
        print(json.dumps(result), flush=True)
        if hold:
            sys.stdin.read()
            print(json.dumps({"pss_later": memory_mb()[1]}), flush=True)
        await search.stop()


def spawn(url: str, index_dir: str, queries: Path, hold: bool = False) -> subprocess.Popen[str]:
    args = [
        sys.executable,
        __file__,
        "--child",
        url,
        "--index",
        index_dir,
        "--queries",
        str(queries),
    ]
    if hold:
        args.append("--hold")
    return subprocess.Popen(
        args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def result_of(proc: subprocess.Popen[str], spawned: float) -> dict[str, float]:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        _out, err = proc.communicate()
        raise RuntimeError(err[-3000:])
    r = json.loads(line)
    r["first_answer_s"] = r["answered_at"] - spawned
    return r


def phases(url: str, queries: Path, tmp: Path) -> dict[str, dict[str, float]]:
    index_dir = str(tmp / "search-index")
    out: dict[str, dict[str, float]] = {}
    for name in ("cold", "restart"):
        t = time.time()
        proc = spawn(url, index_dir, queries)
        out[name] = result_of(proc, t)
        proc.communicate()
    t = time.time()
    first = spawn(url, index_dir, queries, hold=True)
    out["first of two"] = result_of(first, t)
    t = time.time()
    second = spawn(url, index_dir, queries)
    out["second process"] = result_of(second, t)
    second.communicate()
    first.communicate("")
    return out


async def prepare(kind: str, size: int, pg: str, tmp: Path) -> tuple[str, str]:
    gen = Generator()
    gen.rng.seed(size)
    name = ""
    if kind == "sqlite":
        url = f"sqlite://{tmp}/bench.sqlite3"
    else:
        name = await pg_database(pg)
        url = f"{pg}/{name}"
    started = time.perf_counter()
    async with db.database(url):
        await populate(gen, size)
    print(f"{kind}: {size} documents inserted in {time.perf_counter() - started:.0f} s", flush=True)
    gold = [g.q for g in load_gold(ROOT / "tests" / "search" / "gold.yaml")]
    (tmp / "queries.json").write_text(json.dumps(gold + gen.queries(100), ensure_ascii=False))
    return url, name


def run(size: int, dbs: list[str], pg: str) -> None:
    print(f"{size} generated documents; each phase a fresh process; queries: gold set + 100 random")
    print("first answer s: from spawning the process (interpreter, imports, jieba) to its first")
    print("answer; PSS: shared pages split between the processes that map them; anon: private")
    print("heap; after q: once the gold set and 100 random queries ran three times")
    print()
    header = (
        f"{'db':<9}{'phase':<16}{'first answer s':>15}{'start s':>9}{'loaded':>8}"
        f"{'RSS MB':>8}{'PSS MB':>8}{'anon MB':>8}{'RSS/PSS after q':>16}"
        f"{'p50 ms':>8}{'p95 ms':>8}  same answers as cold"
    )
    for kind in dbs:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            url, name = asyncio.run(prepare(kind, size, pg, tmp))
            try:
                results = phases(url, tmp / "queries.json", tmp)
            finally:
                if name:
                    asyncio.run(drop_pg(pg, name))
        print(header)
        print("-" * len(header))
        cold = results["cold"]
        for phase, r in results.items():
            after = f"{r['rss_after']:.0f}/{r['pss_after']:.0f}"
            print(
                f"{kind:<9}{phase:<16}{r['first_answer_s']:>15.1f}{r['start_s']:>9.1f}"
                f"{'yes' if r['loaded'] else 'no':>8}{r['rss']:>8.0f}{r['pss']:>8.0f}{r['anon']:>8.0f}"
                f"{after:>16}"
                f"{r['p50']:>8.2f}{r['p95']:>8.2f}  {r['digest'] == cold['digest']}"
            )
        restart = results["restart"]
        second = results["second process"]
        print(
            f"ratios: restart/cold first answer {restart['first_answer_s'] / cold['first_answer_s']:.3f},"
            f" RSS restart/cold {restart['rss'] / cold['rss']:.2f},"
            f" PSS second/cold {second['pss'] / cold['pss']:.2f}"
        )
        print(flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--dbs", default="sqlite,postgres")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)
    parser.add_argument("--index", default="", help=argparse.SUPPRESS)
    parser.add_argument("--queries", default="", help=argparse.SUPPRESS)
    parser.add_argument("--hold", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        queries = json.loads(Path(args.queries).read_text())
        asyncio.run(child(args.child, args.index, queries, args.hold))
        return
    run(args.size, args.dbs.split(","), args.pg.rstrip("/"))


if __name__ == "__main__":
    main()
