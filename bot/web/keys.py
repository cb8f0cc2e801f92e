"""Typed application keys, declared in one place."""

from __future__ import annotations

from aiohttp import web

from bot.config import Settings
from bot.services import Services

SETTINGS = web.AppKey("settings", Settings)
SERVICES = web.AppKey("services", Services)
ROLE = web.AppKey("role", str)
