"""How long ``content sync`` takes for a large generated catalog.

    python bench/sync.py [--policies 10000] [--db sqlite|postgres]

Generates N policies (every third with an interpretation) next to the sample
areas and topics, then times: the first sync (all new), a second sync
(nothing changed) and a sync after editing 1% of the files, and prints them
beside the targets (issue 13: at 100,000 policies, under 60 s the first time
and under 5 s when nothing changed).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import scratch  # noqa: E402

from bot import db  # noqa: E402
from bot.catalog.sync import sync_content  # noqa: E402

TARGETS = {"first": 60.0, "unchanged": 5.0}  # seconds, at TARGET_AT policies
TARGET_AT = 100_000
AREAS = ["社会救助", "农村危房改造", "征地补偿", "就业", "涉农补贴", "养老服务"]
TOPICS = ["relief", "subsidies", "housing", "employment", "elderly"]


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the render workers): on a
    machine shared with other work, wall time alone says little."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def generate(root: Path, count: int) -> None:
    for name in ("areas.yaml", "topics.yaml", "holidays.yaml"):
        shutil.copy(ROOT / "content" / name, root / name)
    (root / "policies").mkdir()
    (root / "interpretations").mkdir()
    rng = random.Random(7)
    for n in range(count):
        pid = f"bench-{n:05d}"
        year = 2018 + n % 8
        paired = n % 3 == 0
        (root / "policies" / f"{pid}.md").write_text(
            f"""---
id: {pid}
title: 青山县关于第{n}项惠民政策的通知
issuer: 青山县人民政府办公室
written_on: {year}-{1 + n % 12:02d}-{1 + n % 28:02d}
doc_number: 青政办〔{year}〕{n}号
index_number: 1133072601-{year}-{n:05d}
areas: [{rng.choice(AREAS)}]
topics: [{rng.choice(TOPICS)}]
keywords: [惠民, 补贴, 第{n}项]
summary: 第{n}项政策的摘要。
requires_interpretation: {str(paired).lower()}
---

## 一、适用对象

本县户籍居民。补助标准为每人每月{100 + n % 900}元。

| 档次 | 金额 |
|---|---|
| 一档 | {n % 500} |

## 二、办理流程

1. 申请；
2. 审核；
3. 公示。
""",
            encoding="utf-8",
        )
        if paired:
            (root / "interpretations" / f"jd-{pid}.md").write_text(
                f"---\nid: jd-{pid}\ntitle: 第{n}项政策解读\npolicy: {pid}\n---\n\n谁能申请？**本县居民**。\n",
                encoding="utf-8",
            )


def edit(root: Path, count: int) -> None:
    for n in range(0, count, 100):
        path = root / "policies" / f"bench-{n:05d}.md"
        path.write_text(
            path.read_text(encoding="utf-8").replace("本县户籍居民", "本县常住居民"),
            encoding="utf-8",
        )


async def run(count: int, backend: str) -> None:
    async with scratch(backend) as (work, url):
        content = work / "content"
        content.mkdir()
        started = time.perf_counter()
        generate(content, count)
        print(f"generated {count} policies in {time.perf_counter() - started:.1f}s ({content})")
        figures: dict[str, tuple[float, float]] = {}  # (wall, cpu) seconds
        async with db.database(url):
            for key, label in (("first", "first sync (all new)"), ("unchanged", "unchanged")):
                cpu = _cpu()
                report = await sync_content(content)
                figures[key] = report.seconds, _cpu() - cpu
                print(f"{backend} {label}: {report.seconds:.2f}s  {report.summary()}")
            edit(content, count)
            cpu = _cpu()
            report = await sync_content(content)
            figures["edited"] = report.seconds, _cpu() - cpu
            print(f"{backend} after editing {count // 100} files: {report.summary()}")
        _summary(backend, count, figures)


def _summary(backend: str, count: int, figures: dict[str, tuple[float, float]]) -> None:
    print(f"\n{backend}, {count:,} policies ({count + (count + 2) // 3:,} files):")
    print(f"  {'':<11} {'wall':>8} {'cpu':>8}  (cpu: this process and its render workers)")
    for key, label in (
        ("first", "first sync"),
        ("unchanged", "unchanged"),
        ("edited", "1% edited"),
    ):
        wall, cpu = figures[key]
        line = f"  {label:<11} {wall:7.2f}s {cpu:7.2f}s"
        if key in TARGETS:
            line += f"   target < {TARGETS[key]:.0f} s at {TARGET_AT:,}"
            if count == TARGET_AT:
                line += "  " + ("met" if wall < TARGETS[key] else "NOT MET")
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--policies", type=int, default=10_000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    asyncio.run(run(args.policies, args.db))


if __name__ == "__main__":
    main()
