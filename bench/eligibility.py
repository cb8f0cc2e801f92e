"""政策找人 at county scale: consenting residents matched against policies with rules.

    python bench/eligibility.py                 # SQLite, 10k/50k/100k residents, 1,000 policies
    python bench/eligibility.py --db postgres   # the same on the local PostgreSQL

Residents' answers are stored encrypted as the service stores them; each step
reads them back from the database, decrypts them, builds the columns and
matches every policy in force (``bot.eligibility.matching``). Printed: the
time to load (read + decrypt + columns), to match, and the total, per size.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import tempfile
import time
import uuid
from typing import Any

import asyncpg

from bot import db
from bot.catalog.models import Policy, Status
from bot.eligibility.attributes import ATTRIBUTES
from bot.eligibility.conditions import convert, rule_of
from bot.eligibility.matching import consenting_residents, policies_in_force
from bot.eligibility.models import ResidentProfile
from bot.eligibility.profile import seal

PG = "postgres://postgres@127.0.0.1:5432"
TOWNS = ["城关镇", "青河街道", "凤凰街道", "东山镇", "西岭乡", "南湖镇", "北塘镇", "石桥乡"]


def condition(rng: random.Random) -> dict[str, Any]:
    name = rng.choice(list(ATTRIBUTES))
    attribute = ATTRIBUTES[name]
    if name == "age":
        return {"age": rng.choice([{"min": 60}, {"min": 80}, {"min": 16, "max": 59}])}
    if attribute.sort == "range":
        return {name: rng.choice([{"min": rng.randint(1, 5)}, {"max": rng.randint(500, 3000)}])}
    if attribute.sort == "flag":
        return {name: rng.random() < 0.8}
    choices = TOWNS if name == "town" else attribute.choices
    return {name: rng.sample(choices, rng.randint(1, min(3, len(choices))))}


def rule(rng: random.Random) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [condition(rng) for _ in range(rng.randint(1, 4))]
    if rng.random() < 0.3:
        parts.append({"any": [condition(rng) for _ in range(2)]})
    return convert({rng.choice(["all", "any"]): parts, "gives": "每月补贴", "apply": "申请"})


def answers(rng: random.Random, today: dt.date) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, attribute in ATTRIBUTES.items():
        if rng.random() < 0.25:
            continue  # not answered
        if name == "age":
            out[name] = f"{today.year - rng.randint(0, 100):04d}-{rng.randint(1, 12):02d}"
        elif attribute.sort == "range":
            out[name] = rng.choice(
                [rng.randint(1, 8), rng.randint(0, 4000), round(rng.random() * 10, 1)]
            )
        elif attribute.sort == "flag":
            out[name] = rng.random() < 0.2
        else:
            choices = TOWNS if name == "town" else attribute.choices
            out[name] = rng.sample(choices, rng.randint(0, 1 if not attribute.multiple else 2))
            if not attribute.multiple and not out[name]:
                out[name] = [choices[0]]
    return out


async def run(url: str, sizes: list[int], policies: int) -> None:
    rng = random.Random(15)
    today = dt.date.today()
    await db.init_database(url)
    try:
        rows = [
            Policy(id=f"bench-{i:04d}", title=f"政策{i}", issuer="县政府", written_on=today,
                   status=Status.published, eligibility=rule(rng))
            for i in range(policies)
        ]  # fmt: skip
        await Policy.bulk_create(rows, batch_size=500)
        print(f"{(db.is_postgres(url) and 'postgres') or 'sqlite'}: {policies} policies in force")
        print(f"{'residents':>10} {'load s':>8} {'match s':>8} {'total s':>8} {'matches':>10}")
        have = 0
        for size in sizes:
            batch = [
                ResidentProfile(openid=f"o-{i:07d}", data=seal(answers(rng, today)),
                                consented_at=dt.datetime.now(dt.UTC))
                for i in range(have, size)
            ]  # fmt: skip
            await ResidentProfile.bulk_create(batch, batch_size=2000)
            have = size
            start = time.perf_counter()
            in_force = await policies_in_force(today)
            residents = await consenting_residents()
            loaded = time.perf_counter()
            found = 0
            for policy in in_force:
                found += int(residents.matching(rule_of(policy.eligibility or {}), today).sum())
            done = time.perf_counter()
            print(f"{len(residents):>10} {loaded - start:>8.2f} {done - loaded:>8.2f} "
                  f"{done - start:>8.2f} {found:>10}")  # fmt: skip
    finally:
        await db.close_database()


async def main(args: argparse.Namespace) -> None:
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.db == "postgres":
        name = f"policybot_bench_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect(f"{PG}/postgres")
        await conn.execute(f"CREATE DATABASE {name}")
        await conn.close()
        try:
            await run(f"{PG}/{name}", sizes, args.policies)
        finally:
            conn = await asyncpg.connect(f"{PG}/postgres")
            await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            await conn.close()
    else:
        with tempfile.TemporaryDirectory() as tmp:
            await run(f"sqlite://{tmp}/bench.sqlite3", sizes, args.policies)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--sizes", default="10000,50000,100000")
    parser.add_argument("--policies", type=int, default=1000)
    asyncio.run(main(parser.parse_args()))
