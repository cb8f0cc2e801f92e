"""A year of generated 依申请公开 requests and its annual-report statistics.

    python bench/disclosure_year.py [--requests 1200] [--year 2025] [--db sqlite|postgres] [--json]

Registers N requests received on working days across YEAR (plus 5% received
late in the year before, some still open on 1 January), extends 8% of them,
answers 92% with outcomes in the proportions a county office typically reports
(mostly 予以公开, then 无法提供 / 本机关不掌握, 部分公开, 不予处理 …) after 3 to 30
working days, through the same functions the admin API calls. Prints the time
per step, the time the annual report takes, and (``--json``) the report itself.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import statistics
import sys
import time
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import scratch  # noqa: E402

from bot import db  # noqa: E402
from bot.audit import Actor  # noqa: E402
from bot.catalog.deadlines import WorkCalendar  # noqa: E402
from bot.catalog.loader import load_content  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.participation import requests  # noqa: E402
from bot.participation.models import DisclosureRequest  # noqa: E402
from bot.participation.outcomes import OUTCOMES  # noqa: E402
from bot.participation.report import annual_report  # noqa: E402

STAFF = Actor("基准测试", "editor")
WEIGHTS = [  # (outcome, reason, weight)
    ("予以公开", None, 46), ("部分公开", None, 9),
    ("不予公开", "属于国家秘密", 1), ("不予公开", "保护第三方合法权益", 3),
    ("不予公开", "属于四类过程性信息", 2), ("不予公开", "属于行政查询事项", 2),
    ("无法提供", "本机关不掌握相关政府信息", 18), ("无法提供", "没有现成信息需要另行制作", 4),
    ("无法提供", "补正后申请内容仍不明确", 2),
    ("不予处理", "信访举报投诉类申请", 5), ("不予处理", "重复申请", 3),
    ("不予处理", "要求提供公开出版物", 1),
    ("其他处理", "申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请", 3),
    ("其他处理", "其他", 1),
]  # fmt: skip
ORGS = ["商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他"]


def _applicant(rng: random.Random) -> dict[str, object]:
    if rng.random() < 0.8:
        return {"type": "公民", "name": "申请人", "id_type": "居民身份证", "id_number": "11010519491231002X",
                "phone": f"138{rng.randrange(10**8):08d}", "address": "青山县城关镇"}  # fmt: skip
    return {"type": "法人或其他组织", "org_kind": rng.choice(ORGS), "name": "某公司", "id_type": "统一社会信用代码",
            "id_number": "91350582MA2XXXXX0A", "phone": f"0595-{rng.randrange(10**8):08d}", "address": "青山县"}  # fmt: skip


async def run(count: int, year: int, backend: str, show_json: bool) -> None:
    async with scratch(backend) as (_work, url):
        settings = Settings.model_validate({
            "database": {"url": url}, "content": {"dir": str(ROOT / "content")},
            "privacy": {"key": Fernet.generate_key().decode()},
        })  # fmt: skip
        cal = WorkCalendar(load_content(settings.content.dir).holidays)
        rng = random.Random(2025)
        days = [
            d
            for d in (dt.date(year, 1, 1) + dt.timedelta(n) for n in range(366))
            if d.year == year and cal.is_workday(d)[0]
        ]
        before = [
            d
            for d in (dt.date(year - 1, 12, 1) + dt.timedelta(n) for n in range(31))
            if cal.is_workday(d)[0]
        ]
        received = sorted(
            [rng.choice(before) for _ in range(count // 20)]
            + [rng.choice(days) for _ in range(count)]
        )
        async with db.database(url):
            t0 = time.perf_counter()
            numbers = []
            for day in received:
                body = {"applicant": _applicant(rng), "description": "某政府信息", "delivery": rng.choice(["邮寄", "自行领取"]),
                        "received_on": day.isoformat()}  # fmt: skip
                numbers.append(
                    (await requests.receive(settings, body, who=STAFF, staff=True)).number
                )
            t1 = time.perf_counter()
            weights = [w for *_, w in WEIGHTS]
            answered = 0
            for number, day in zip(numbers, received, strict=True):
                if rng.random() < 0.08:
                    await requests.extend(
                        settings,
                        number,
                        {"reason": "需征求第三方意见", "approver": "办公室主任"},
                        STAFF,
                    )
                took = rng.choice([3, 5, 8, 10, 12, 15, 18, 19, 20, 20, 22, 30])
                replied_on = cal.add_working_days(day, took).day
                if replied_on > dt.date(year, 12, 31) or rng.random() < 0.04:
                    continue  # still open at the end of the year
                outcome, reason, _ = rng.choices(WEIGHTS, weights)[0]
                assert reason is None or reason in OUTCOMES[outcome]
                await requests.reply(
                    settings, number, {"outcome": outcome, "reason": reason, "text": "答复"}, STAFF
                )
                await DisclosureRequest.filter(number=number).update(
                    replied_on=replied_on
                )  # as if on that day
                answered += 1
            t2 = time.perf_counter()
            timings = []
            for _ in range(5):
                started = time.perf_counter()
                report = await annual_report(year, cal)
                timings.append(time.perf_counter() - started)
            total = len(numbers)
            print(f"{backend}: {total} requests registered in {t1 - t0:.1f}s ({(t1 - t0) / total * 1000:.1f} ms each); "
                  f"{answered} answered (with 8% extended) in {t2 - t1:.1f}s")  # fmt: skip
            print(f"{backend}: annual report for {year} over {total} requests: median {statistics.median(timings) * 1000:.0f} ms "
                  f"(min {min(timings) * 1000:.0f}, max {max(timings) * 1000:.0f}) of 5 runs")  # fmt: skip
            balance = (
                report["received"]["total"] + report["carried_over"]
                == report["outcomes"]["total"] + report["carried_forward"]
            )
            print(f"books balance (new + carried over = outcomes + carried forward): {balance}")
            if show_json:
                print(
                    json.dumps(
                        {k: v for k, v in report.items() if k != "table"},
                        ensure_ascii=False,
                        indent=2,
                    )
                )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=1200)
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--json", action="store_true", help="print the report")
    args = parser.parse_args()
    asyncio.run(run(args.requests, args.year, args.db, args.json))


if __name__ == "__main__":
    main()
