"""``policybot fake-wechat``: the local stand-in for the WeChat API."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from typing import Any


def cmd_fake_wechat(args: argparse.Namespace) -> int:
    from bot.wechat.fake import FakeConfig, run_fake

    config = FakeConfig(
        appid=args.appid,
        secret=args.secret,
        followers=args.followers,
        error_rate=args.error_rate,
        token_ttl=args.token_ttl,
        latency_ms=args.latency_ms,
        callback_url=args.callback,
        callback_token=args.token,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_fake(args.host, args.port, config))
    return 0


def add_parser(subparsers: Any) -> None:
    fake = subparsers.add_parser("fake-wechat", help="启动本地微信接口模拟服务（测试、演示用）")
    fake.add_argument("--host", default="127.0.0.1")
    fake.add_argument("--port", type=int, default=8081)
    fake.add_argument("--appid", default="wx-demo-appid")
    fake.add_argument("--secret", default="demo-secret")
    fake.add_argument("--followers", type=int, default=100, help="生成的关注者数量")
    fake.add_argument("--error-rate", type=float, default=0.0, help="随机返回 -1（系统繁忙）的比例")
    fake.add_argument("--token-ttl", type=float, default=7200, help="access_token 有效秒数")
    fake.add_argument("--latency-ms", type=float, default=0.0)
    fake.add_argument(
        "--callback",
        default="http://127.0.0.1:8080/wechat",
        help="服务的回调地址：POST /_fake/say 像微信一样把居民消息送到这里",
    )
    fake.add_argument("--token", default="policybot-dev", help="服务的 wechat.token（签名用）")
    fake.set_defaults(func=cmd_fake_wechat)
