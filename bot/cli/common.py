"""What every command shares: settings, logging, running a coroutine."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Coroutine
from typing import Any

from bot.config import Settings, load_settings
from bot.logs import setup_logging


def settings_from(args: argparse.Namespace, quiet: bool = False) -> Settings:
    """Load settings and set up logging; one-shot commands log only warnings and errors."""
    settings = load_settings(args.config)
    level = settings.log.level
    if quiet and level == "INFO":
        level = "WARNING"
    setup_logging(level, settings.log.format == "json")
    return settings


def run(coro: Coroutine[Any, Any, int | None]) -> int:
    return asyncio.run(coro) or 0
