"""``policybot fake-sms``: the local stand-in for Tencent Cloud SMS (tests, demos, benchmarks)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from typing import Any


async def _serve(args: argparse.Namespace) -> None:
    from bot.sms.fake import FakeSmsConfig, serve_fake_sms

    config = FakeSmsConfig(
        secret_id=args.secret_id,
        secret_key=args.secret_key,
        sdk_app_id=args.sdk_app_id,
        sign_names=(args.sign_name,),
        interval=args.interval,
        rate_limit=args.rate_limit,
    )
    runner, state = await serve_fake_sms(args.port, config, host=args.host)
    print(f"fake Tencent Cloud SMS at {state.url} (templates {', '.join(config.templates)})")
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def cmd_fake_sms(args: argparse.Namespace) -> int:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
    return 0


def add_parser(subparsers: Any) -> None:
    fake = subparsers.add_parser("fake-sms", help="启动本地腾讯云短信接口模拟服务（测试、演示用）")
    fake.add_argument("--host", default="127.0.0.1")
    fake.add_argument("--port", type=int, default=8082)
    fake.add_argument("--secret-id", default="AKIDfakesms")
    fake.add_argument("--secret-key", default="fake-sms-secret")
    fake.add_argument("--sdk-app-id", default="1400000001")
    fake.add_argument("--sign-name", default="青山县政务")
    fake.add_argument("--interval", type=float, default=30.0, help="同一号码两条短信的最短间隔秒数")
    fake.add_argument("--rate-limit", type=float, default=0.0, help="每秒请求上限（0 为不限）")
    fake.set_defaults(func=cmd_fake_sms)
