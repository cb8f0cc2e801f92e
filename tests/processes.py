"""Real ``policybot`` processes for tests that need more than one process
(shared de-duplication, crash and restart): started with the settings of a
test turned into ``POLICYBOT_*`` variables, stopped (or killed) by the test."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp

from bot.config import Settings

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings_env(settings: Settings, **overrides: str) -> dict[str, str]:
    """The environment that gives a child process exactly these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLICYBOT_")}
    data: dict[str, Any] = settings.model_dump(mode="json")
    for section, values in data.items():
        for key, value in values.items():
            secret = getattr(getattr(settings, section), key)
            if hasattr(secret, "get_secret_value"):
                value = secret.get_secret_value()
            elif section == "admin" and key == "api_tokens":
                value = [
                    {"token": t.token.get_secret_value(), "role": str(t.role), "name": t.name}
                    for t in settings.admin.api_tokens
                ]
            env[f"POLICYBOT_{section.upper()}_{key.upper()}"] = (
                value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            )
    env.update(overrides)
    return env


class Service:
    """``policybot serve`` in a child process."""

    def __init__(self, settings: Settings, role: str = "web", **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = settings_env(settings, POLICYBOT_SERVER_PORT=str(self.port), **env)
        self.role = role
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self, timeout: float = 60) -> Service:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--role", self.role],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        if self.role != "worker":
            await self._wait_healthy(timeout)
        return self

    async def _wait_healthy(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with aiohttp.ClientSession() as http:
            while loop.time() < deadline:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                    raise RuntimeError(f"policybot serve exited: {err[-2000:]}")
                try:
                    async with http.get(self.url + "/healthz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError("policybot serve did not become healthy")

    def kill(self) -> None:
        """SIGKILL: no clean-up at all, as in a crash or an OOM kill."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
