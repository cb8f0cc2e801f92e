"""Typed settings: one TOML file plus ``POLICYBOT_<SECTION>_<KEY>`` overrides.

Every key is declared once here, with its default and meaning beside it;
``config.example.toml`` mirrors this file. A bad value stops start-up with a
single line that names the key (``ConfigError``) and never echoes secrets.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tomllib
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

ENV_PREFIX = "POLICYBOT_"
DEFAULT_CONFIG = Path("config.toml")


class ConfigError(Exception):
    """A configuration problem, phrased as one line naming the key."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(Section):
    host: str = "127.0.0.1"  #: listen address
    port: int = Field(8080, ge=1, le=65535)  #: listen port
    #: public URL used in every link sent to residents; when not set, the listen address
    base_url: str = "http://127.0.0.1:8080"
    timezone: str = "Asia/Shanghai"  #: zone for schedules, quiet hours and dates
    reply_timeout: float = Field(4.0, gt=0, le=4.8)  #: seconds before a slow reply goes async
    #: web processes sharing the listen port (``serve --role web``; SO_REUSEPORT, one per core)
    workers: int = Field(1, ge=1, le=64)

    @model_validator(mode="before")
    @classmethod
    def _base_url_follows_listen_address(cls, data: Any) -> Any:
        """A base URL never set follows ``host``/``port`` (links work on another port)."""
        if isinstance(data, dict) and not data.get("base_url"):
            host = str(data.get("host") or "127.0.0.1")
            if host in ("0.0.0.0", "::", ""):  # every interface: this machine answers locally
                host = "127.0.0.1"
            elif ":" in host:
                host = f"[{host}]"
            data = {**data, "base_url": f"http://{host}:{data.get('port') or 8080}"}
        return data

    def listening_on(self, host: str | None, port: int | None) -> ServerSettings:
        """These settings with another listen address (``serve --host/--port``)."""
        given = self.model_dump(include=self.model_fields_set)
        if self._derived_base_url:
            given.pop("base_url", None)
        given.update({k: v for k, v in (("host", host), ("port", port)) if v is not None})
        return ServerSettings.model_validate(given)

    @property
    def _derived_base_url(self) -> bool:
        """The base URL is the listen address's (never set, or set to the same)."""
        return (
            self.base_url
            == ServerSettings.model_validate({"host": self.host, "port": self.port}).base_url
        )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("unknown time zone") from exc
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class DatabaseSettings(Section):
    url: str = (
        "sqlite://./data/policybot.sqlite3"  #: sqlite://PATH or postgres://user:pass@host:port/db
    )

    @field_validator("url")
    @classmethod
    def _supported(cls, value: str) -> str:
        scheme = value.split("://", 1)[0] if "://" in value else ""
        if scheme not in ("sqlite", "postgres", "postgresql", "asyncpg"):
            raise ValueError("must start with sqlite:// or postgres://")
        return value


class WeChatSettings(Section):
    appid: str = ""  #: account AppID; empty runs in demo mode
    secret: SecretStr = SecretStr("")  #: account AppSecret
    token: SecretStr = SecretStr("policybot-dev")  #: callback token
    encoding_aes_key: SecretStr = SecretStr("")  #: 43-char key enabling safe (AES) mode
    api_base_url: str = "https://api.weixin.qq.com/"  #: WeChat API root (a stand-in in tests)
    callback_path: str = "/wechat"  #: callback route
    template_id: str = ""  #: default template for `template` pushes
    use_subscribe_message: bool = False  #: send `template` pushes through 订阅通知 (bizsend)

    @field_validator("encoding_aes_key")
    @classmethod
    def _aes_key(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        if raw and not re.fullmatch(r"[A-Za-z0-9]{43}", raw):
            raise ValueError("must be 43 letters and digits")
        return value

    @field_validator("api_base_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http(s) URL")
        return value if value.endswith("/") else value + "/"

    @field_validator("callback_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with /")
        return value

    @property
    def demo(self) -> bool:
        return not self.appid


class ContentSettings(Section):
    dir: Path = Path("./content")  #: content folder
    sync_on_start: bool = True  #: import content/ when the service starts


class SearchSettings(Section):
    #: where the search index snapshot is kept, so a restart or a second process
    #: loads it in seconds instead of re-indexing (bot.search.snapshot); "" keeps none
    index_dir: str = "./data/search-index"

    @property
    def snapshot_dir(self) -> Path | None:
        return Path(self.index_dir) if self.index_dir.strip() else None


class RedisSettings(Section):
    url: str = ""  #: optional; shares token, de-duplication and locks between processes

    @field_validator("url")
    @classmethod
    def _redis(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must be a redis:// URL")
        return value


class Role(StrEnum):
    publisher = "publisher"
    editor = "editor"
    reviewer = "reviewer"
    admin = "admin"


class ApiToken(Section):
    token: SecretStr  #: bearer token
    role: Role  #: publisher | editor | reviewer | admin
    name: str = ""  #: who holds it (recorded in the audit log)


class AdminSettings(Section):
    api_tokens: tuple[ApiToken, ...] = ()  #: bearer tokens for the admin API, each with a role
    session_secret: SecretStr = SecretStr("")  #: signs console sessions; random when empty


class PushSettings(Section):
    rate_per_second: float = Field(20, gt=0, le=10000)  #: ceiling on WeChat API calls per second
    quiet_hours: str = "22:00-08:00"  #: no pushes inside this local window; empty turns it off
    workers: int = Field(4, ge=1, le=64)  #: concurrent delivery calls
    batch_size: int = Field(200, ge=1, le=5000)  #: deliveries claimed per batch
    max_attempts: int = Field(5, ge=1, le=20)  #: tries for a transient error before failing
    misfire_grace_seconds: int = Field(3600, ge=0)  #: a missed run within this window still runs
    mass_monthly_quota: int = Field(4, ge=0)  #: mass sends a resident may receive per month
    auto_notify: bool = False  #: send a new policy's notice to its subscribers without review
    notify_channel: str = Field(
        "template", pattern="^(template|mass|customer)$"
    )  #: channel of the notice a newly published policy prepares

    @field_validator("quiet_hours")
    @classmethod
    def _window(cls, value: str) -> str:
        if value and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d", value):
            raise ValueError("must look like 22:00-08:00")
        return value


_CLOCK = r"([01]?\d|2[0-3]):[0-5]\d"


class ChatSettings(Section):
    """What the chat tells a resident who asks for a person (人工, 转人工客服)."""

    office_hours: str = "08:30-12:00,14:30-17:30"  #: staff hours on working days (comma-separated)
    office_phone: str = ""  #: staff phone shown beside 12345, e.g. 0571-12345678; empty hides it
    max_results: int = Field(3, ge=1, le=5)  #: search results in one reply before “更多”

    @field_validator("office_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        for window in filter(None, (w.strip() for w in value.split(","))):
            if not re.fullmatch(f"{_CLOCK}-{_CLOCK}", window):
                raise ValueError("must look like 08:30-12:00,14:30-17:30")
        return value

    @property
    def windows(self) -> list[tuple[dt.time, dt.time]]:
        out = []
        for window in filter(None, (w.strip() for w in self.office_hours.split(","))):
            start, end = window.split("-")
            out.append((dt.time.fromisoformat(start.zfill(5)), dt.time.fromisoformat(end.zfill(5))))
        return out


class LogSettings(Section):
    level: str = Field("INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")  #: log level
    format: str = Field(
        "json", pattern="^(json|text)$"
    )  #: json: one object per line; text: for people


class Settings(Section):
    server: ServerSettings = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    wechat: WeChatSettings = WeChatSettings()
    content: ContentSettings = ContentSettings()
    redis: RedisSettings = RedisSettings()
    admin: AdminSettings = AdminSettings()
    push: PushSettings = PushSettings()
    chat: ChatSettings = ChatSettings()
    log: LogSettings = LogSettings()
    search: SearchSettings = SearchSettings()


def _env_overrides(environ: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Turn POLICYBOT_SECTION_KEY=value into nested data; JSON values are decoded."""
    sections = Settings.model_fields
    out: dict[str, dict[str, Any]] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        section = next((s for s in sections if rest.startswith(s + "_")), None)
        if section is None:
            raise ConfigError(f"{name}: unknown setting")
        key = rest[len(section) + 1 :]
        try:
            value: Any = json.loads(raw)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = raw  # let the field's type decide ("0123" stays a string)
        except ValueError:
            value = raw
        out.setdefault(section, {})[key] = value
    return out


def _merge(base: dict[str, Any], extra: dict[str, dict[str, Any]]) -> dict[str, Any]:
    merged = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    for section, values in extra.items():
        target = merged.setdefault(section, {})
        if not isinstance(target, dict):
            raise ConfigError(f"{section}: must be a table")
        target.update(values)
    return merged


def _explain(error: ValidationError) -> str:
    first = error.errors()[0]
    key = ".".join(str(p) for p in first["loc"])
    if first["type"] == "extra_forbidden":
        return f"{key}: unknown key"
    return f"{key}: {first['msg'].removeprefix('Value error, ')}"


def load_settings(
    path: Path | str | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read the TOML file (explicit path, else ./config.toml if present) and apply env overrides."""
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    file = Path(path) if path else (DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None)
    if file is not None:
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"{file}: config file not found") from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{file}: not valid TOML ({exc})") from exc
    try:
        return Settings.model_validate(_merge(data, _env_overrides(environ)))
    except ValidationError as exc:
        raise ConfigError(_explain(exc)) from None
