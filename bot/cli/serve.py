"""``policybot serve``: the web app and/or the scheduler and delivery workers."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from typing import Any

from bot.cli.common import run, settings_from
from bot.config import Settings, security_warnings
from bot.db import check_storage

log = logging.getLogger("bot.serve")

log = logging.getLogger("bot.serve")
EARLY_EXIT_SECONDS = 10.0  # a web process dying this soon after its start is restarted later


def cmd_serve(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if args.host is not None or args.port is not None:
        server = settings.server.listening_on(args.host, args.port)
        settings = settings.model_copy(update={"server": server})
    check_storage(settings.database.url)  # one line and exit 1, before anything starts
    for warning in security_warnings(settings, args.role):
        log.warning(warning)
    if args.role == "worker":
        return run(_run_worker(settings))
    workers = args.workers or settings.server.workers
    if workers > 1:
        if args.role != "web":
            print(
                "多进程（--workers）只用于 --role web；定时任务与推送请另起一个 --role worker 进程",
                file=sys.stderr,
            )
            return 2
        return _supervise(settings, workers)
    _serve(settings, args.role)
    return 0


def _serve(settings: Settings, role: str, number: int | None = None) -> None:
    from aiohttp import web

    from bot.app import create_app

    shown = "" if number is None else f"，进程 {number + 1}（pid {os.getpid()}）"
    web.run_app(
        create_app(settings, role=role),
        host=settings.server.host,
        port=settings.server.port,
        access_log=None,
        reuse_port=number is not None,
        print=lambda *_: print(
            f"政策在线已启动：监听 {settings.server.host}:{settings.server.port}，"
            f"对外地址 {settings.server.base_url}（角色 {role}{shown}，按 Ctrl+C 停止）",
            file=sys.stderr,
        ),
    )


def _supervise(settings: Settings, workers: int) -> int:
    """Fork ``workers`` web processes listening on one port with SO_REUSEPORT (the
    kernel spreads connections over them); restart one that dies, stop all on
    SIGINT/SIGTERM. De-duplication of WeChat's retries and the search index's
    refresh are shared through the database (or Redis), so any process may answer
    any retry. Only the first process imports content/ at start."""
    children: dict[int, tuple[int, float]] = {}  # pid → (number, started)

    def spawn(number: int) -> None:
        own = settings
        if number:
            content = settings.content.model_copy(update={"sync_on_start": False})
            own = settings.model_copy(update={"content": content})
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            code = 0
            try:
                _serve(own, "web", number)
            except BaseException:
                log.exception("web process failed")
                code = 1
            os._exit(code)
        children[pid] = (number, time.monotonic())

    stopping = False

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    _preload()
    spawn(0)
    # The others start once the first listens: it has migrated the database, imported
    # content/ and written the search snapshot, which they then load in seconds.
    first = next(iter(children))
    if not _wait_listening(first, settings.server.host, settings.server.port):
        print("第一个 web 进程未能启动", file=sys.stderr)
        stop(signal.SIGTERM, None)
        return 1
    for number in range(1, workers):
        if not stopping:
            spawn(number)
    pause = 1.0
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        number, started = children.pop(pid, (-1, 0.0))
        if stopping or number < 0:
            continue
        log.warning("web process died; starting it again", extra={"status": status})
        # One that keeps dying at start is restarted ever more slowly (up to a minute).
        pause = min(pause * 2, 60.0) if time.monotonic() - started < EARLY_EXIT_SECONDS else 1.0
        time.sleep(pause)
        if not stopping:
            spawn(number)
    return 0


async def _run_worker(settings: Settings) -> int:
    """The worker role: scheduler and delivery workers, no HTTP server."""
    from bot.participation.outbox import outbox_worker
    from bot.push.runtime import push_runtime
    from bot.services import open_services

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with open_services(settings) as services, push_runtime(services), outbox_worker(services):
        print("推送进程已启动（按 Ctrl+C 停止）", file=sys.stderr)
        await stop.wait()
    return 0


def _port(value: str) -> int:
    port = int(value) if value.isdigit() else 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError("端口应为 1 到 65535 之间的整数")
    return port


def _preload() -> None:
    """Load the code and jieba's dictionary once, before forking: the processes share
    those pages copy-on-write (``gc.freeze`` keeps the collector from touching them)
    instead of each holding its own ~250 MB."""
    import gc

    import bot.app  # noqa: F401
    from bot.search.text import analyzer

    analyzer()
    gc.collect()
    gc.freeze()


def _wait_listening(pid: int, host: str, port: int) -> bool:
    """Until the process answers connections on the port (False if it exits first)."""
    local = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    while True:
        try:
            done, _status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return False
        if done:
            return False
        try:
            with socket.create_connection((local, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.2)


def _workers(value: str) -> int:
    count = int(value) if value.isdigit() else 0
    if not 1 <= count <= 64:
        raise argparse.ArgumentTypeError("进程数应为 1 到 64 之间的整数")
    return count


def add_parser(subparsers: Any) -> None:
    serve = subparsers.add_parser("serve", help="启动服务")
    serve.add_argument("--role", choices=["all", "web", "worker"], default="all")
    serve.add_argument("--host", help="监听地址（默认 server.host）")
    serve.add_argument("--port", type=_port, help="监听端口（默认 server.port）")
    serve.add_argument(
        "--workers", type=_workers, help="web 进程数，共用同一端口（默认 server.workers）"
    )
    serve.set_defaults(func=cmd_serve)
