"""``serve --role web`` as several processes on one port (issue 13 item 4): the
kernel spreads connections over them, WeChat's retries get one reply and one
side effect whichever process they reach, and a process that dies is replaced.
Throughput: bench/scale_out.py."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import aiohttp

from bot.config import Settings
from bot.models import Feedback
from bot.services import open_services
from tests.processes import Service
from tests.wechat.wx import RemoteClient, WeChatServer, text_xml


def _children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(p) for p in found]


def _listening(port: int) -> int:
    """Listening sockets on the port (with SO_REUSEPORT, one per process)."""
    rows = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    return sum(1 for r in rows if int(r[1].split(":")[1], 16) == port and r[3] == "0A")


async def _workers(service: Service, count: int) -> list[int]:
    """The web processes, once ``count`` of them listen (the first starts the others)."""
    assert service.proc is not None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while loop.time() < deadline:
        found = [p for p in _children(service.proc.pid) if _alive(p)]
        if len(found) >= count and _listening(service.port) >= count:
            return found
        await asyncio.sleep(0.2)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


async def _send(url: str, xml: str) -> tuple[int, str]:
    """Each on a connection of its own, as WeChat's retries arrive."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        reply = await WeChatServer(RemoteClient(http, url)).send(xml)
        return reply.status, reply.text


async def test_two_web_processes_share_a_port_and_answer_a_retry_once(settings: Settings) -> None:
    service = Service(settings, POLICYBOT_SERVER_WORKERS="2")
    await service.start()
    try:
        assert service.proc is not None
        workers = await _workers(service, 2)
        assert len(workers) == 2
        xml = text_xml("留言 同一端口两个进程", msg_id="7100000000000000001")
        replies = await asyncio.gather(*(_send(service.url, xml) for _ in range(6)))
        assert {status for status, _ in replies} == {200}
        assert len({text for _, text in replies if text}) == 1, replies

        os.kill(workers[0], signal.SIGKILL)  # one process dies: the others keep answering
        while _alive(workers[0]) or _listening(service.port) > 1:
            await asyncio.sleep(0.05)  # until its socket is closed (all its threads gone)
        status, text = await _send(service.url, text_xml("帮助", msg_id="7100000000000000002"))
        assert status == 200 and text
        replaced = await _workers(service, 2)
        assert len(replaced) == 2 and workers[0] not in replaced
    finally:
        service.stop()
    assert service.proc.returncode == 0
    async with open_services(settings):
        assert await Feedback.filter(text="同一端口两个进程").count() == 1, replies
