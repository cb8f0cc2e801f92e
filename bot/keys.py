"""Typed application keys, declared in one place (the web edge and the callback share them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from bot.config import Settings

if TYPE_CHECKING:
    from bot.services import Services

SETTINGS = web.AppKey("settings", Settings)
SERVICES: web.AppKey[Services] = web.AppKey("services")
ROLE = web.AppKey("role", str)
