"""Typed settings: one TOML file plus ``POLICYBOT_<SECTION>_<KEY>`` overrides.

Every key is declared once here, with its default and meaning beside it;
``config.example.toml`` mirrors this file. A bad value stops start-up with a
single line that names the key (``ConfigError``) and never echoes secrets.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import math
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

from bot.wechat.templates import PARTS, key_type

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
    metrics_listen: str = Field(
        "", pattern=r"^$|^[^\s]*:\d{1,5}$"
    )  #: host:port serving /metrics alone (internal); empty: none
    metrics_token: SecretStr = SecretStr("")  #: bearer token for /metrics on the public port
    trusted_proxies: tuple[str, ...] = ()  #: reverse proxies whose X-Forwarded-For is believed

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        try:
            return tuple(str(ipaddress.ip_network(v, strict=False)) for v in value)
        except ValueError as exc:
            raise ValueError("must be IP addresses or networks such as 10.0.0.0/8") from exc

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
    timestamp_window: int = Field(300, ge=1)  #: seconds a callback's time may be off from now

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
    session_secret: SecretStr = SecretStr("")  #: signs residents' cookies; random when empty
    session_idle_minutes: int = Field(30, ge=1, le=720)  #: idle minutes that end a console session
    auth_failures_per_minute: int = Field(10, ge=1)  #: wrong bearer tokens per address, then 429

    @field_validator("api_tokens")
    @classmethod
    def _strong_and_distinct(cls, tokens: tuple[ApiToken, ...]) -> tuple[ApiToken, ...]:
        seen: set[str] = set()
        for number, token in enumerate(tokens):
            raw = token.token.get_secret_value()
            if weakness := token_weakness(raw):
                raise ValueError(f"token {number} ({token.name or token.role.value}) {weakness}")
            if raw in seen:
                raise ValueError(
                    f"token {number} ({token.name or token.role.value}) is a duplicate"
                )
            seen.add(raw)
        return tokens


MIN_TOKEN_CHARS = 24
MIN_TOKEN_BITS = 96.0  # what `openssl rand -hex 24` or `secrets.token_urlsafe(18)` gives


def token_weakness(token: str) -> str:
    """Why ``token`` is too easy to guess ("" when it is not): too short, a repeated
    pattern, too few distinct characters, or under ``MIN_TOKEN_BITS`` for its alphabet."""
    if len(token) < MIN_TOKEN_CHARS:
        return f"is shorter than {MIN_TOKEN_CHARS} characters"
    periodic = (token + token).find(token, 1) < len(token)
    if periodic or len(set(token)) < 8:
        return "is too repetitive (use e.g. `openssl rand -hex 24`)"
    if re.fullmatch(r"[0-9]+", token):
        alphabet = 10
    elif re.fullmatch(r"[0-9a-f]+", token):
        alphabet = 16
    else:
        classes = (r"[0-9]", r"[a-z]", r"[A-Z]", r"[^0-9a-zA-Z]")
        alphabet = sum(
            n for c, n in zip(classes, (10, 26, 26, 32), strict=True) if re.search(c, token)
        )
    if len(token) * math.log2(alphabet) < MIN_TOKEN_BITS:
        return "is too short for its characters (use e.g. `openssl rand -hex 24`)"
    return ""


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
    #: seconds after a WeChat send ends before its fallback (SMS, email) goes to the unreached
    fallback_delay_seconds: int = Field(600, ge=0, le=7 * 86400)
    #: per template id, its data keys mapped to message parts (title, text, date, time, =fixed)
    templates: dict[str, dict[str, str]] = {}

    @field_validator("templates")
    @classmethod
    def _template_keys(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for template_id, keys in value.items():
            for key, part in keys.items():
                if key_type(key) is None:
                    raise ValueError(f"{template_id}.{key}: not a WeChat key type (thing1, time2…)")
                if part not in PARTS and not part.startswith("="):
                    raise ValueError(
                        f"{template_id}.{key}: must be one of {', '.join(PARTS)} or =fixed text"
                    )
        return value

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


class FeedbackSettings(Section):
    per_minute: int = Field(5, ge=1)  #: 留言 one resident may leave in a minute
    per_day: int = Field(20, ge=1)  #: 留言 one resident may leave in a day (UTC)


class SmsSettings(Section):
    """Tencent Cloud SMS (API 3.0 ``SendSms``, version 2021-01-11, TC3-HMAC-SHA256)."""

    provider: str = Field("tencentcloud", pattern="^tencentcloud$")  #: the SMS provider
    secret_id: str = ""  #: API key id (SecretId); empty turns SMS off
    secret_key: SecretStr = SecretStr("")  #: API key secret (SecretKey)
    sdk_app_id: str = ""  #: SmsSdkAppId of the SMS application
    sign_name: str = ""  #: approved signature (签名), e.g. 青山县政务
    template_id: str = ""  #: approved notice template: {1} the title, {2} the link
    region: str = "ap-guangzhou"  #: API region
    endpoint: str = "https://sms.tencentcloudapi.com/"  #: API root (a stand-in in tests)
    daily_limit: int = Field(10000, ge=0)  #: SMS this service sends a day at most (cost ceiling)
    #: approved verification-code template: {1} the code, {2} minutes valid
    verify_template_id: str = ""
    rate_per_second: float = Field(50, gt=0, le=3000)  #: ceiling on SendSms calls per second
    per_number_daily_limit: int = Field(10, ge=1)  #: what the account allows one number a day
    #: secret part of the status and reply callback URLs (/sms/callback/<token>/…)
    callback_token: SecretStr = SecretStr("")

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http(s) URL")
        return value if value.endswith("/") else value + "/"

    @property
    def enabled(self) -> bool:
        return bool(self.secret_id and self.sdk_app_id and self.template_id)


class EmailSettings(Section):
    """Outgoing mail over SMTP (aiosmtplib)."""

    host: str = ""  #: SMTP server; empty turns email off
    port: int = Field(587, ge=1, le=65535)  #: SMTP port
    username: str = ""  #: SMTP login; empty sends without logging in
    password: SecretStr = SecretStr("")  #: SMTP password
    from_: str = Field(
        "", alias="from"
    )  #: sender address, e.g. 青山县人民政府 <notice@example.gov.cn>
    starttls: bool = True  #: upgrade the connection with STARTTLS before logging in
    rate_per_second: float = Field(10, gt=0, le=1000)  #: ceiling on messages per second

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @property
    def enabled(self) -> bool:
        return bool(self.host and self.from_)


class LogSettings(Section):
    level: str = Field("INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")  #: log level
    format: str = Field(
        "json", pattern="^(json|text)$"
    )  #: json: one object per line; text: for people


class PrivacySettings(Section):
    #: Fernet key (urlsafe base64, 32 bytes) sealing ID numbers, phones, addresses and emails
    #: at rest (comma-separated keys rotate: the first seals, any opens); it is never stored
    #: in the database. Empty: a key file under ./data/ is made
    #: once and reused (fine for a demo; set the key, from a secret store, in production).
    key: SecretStr = SecretStr("")
    #: where the generated key is kept when ``key`` is empty
    key_file: Path = Path("./data/privacy.key")

    @field_validator("key")
    @classmethod
    def _fernet(cls, value: SecretStr) -> SecretStr:
        from cryptography.fernet import Fernet

        try:
            for part in filter(None, value.get_secret_value().split(",")):
                Fernet(part.strip())
        except ValueError:
            raise ValueError(
                "must be Fernet keys (Fernet.generate_key()), comma-separated"
            ) from None
        return value


class ParticipationSettings(Section):
    #: WeChat's web authorisation page (snsapi_base); a stand-in's in tests and demos
    oauth_authorize_url: str = "https://open.weixin.qq.com/connect/oauth2/authorize"
    #: how often the worker looks for replies and notices to deliver
    outbox_poll_seconds: float = Field(10.0, gt=0, le=3600)


class AttachmentSettings(Section):
    dir: Path = Path("./data/attachments")  #: where files uploaded in the console are kept
    max_bytes: int = Field(50 * 1024 * 1024, ge=1024)  #: largest file accepted, in bytes


class EligibilitySettings(Section):
    """政策找人: the policy check in chat and on /eligibility, and the notices it makes."""

    max_results: int = Field(3, ge=1, le=10)  #: policies shown in full in one chat reply
    session_hours: int = Field(
        24, ge=1, le=720
    )  #: an unfinished check without consent is forgotten after this
    remind_days: int = Field(7, ge=1, le=60)  #: days before an apply_by that residents are reminded
    channel: str = Field(
        "template", pattern="^(template|mass|customer)$"
    )  #: channel of the campaigns telling residents they may qualify


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
    feedback: FeedbackSettings = FeedbackSettings()
    privacy: PrivacySettings = PrivacySettings()
    sms: SmsSettings = SmsSettings()
    email: EmailSettings = EmailSettings()
    participation: ParticipationSettings = ParticipationSettings()
    attachments: AttachmentSettings = AttachmentSettings()
    eligibility: EligibilitySettings = EligibilitySettings()
    search: SearchSettings = SearchSettings()


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


def security_warnings(settings: Settings, role: str = "all") -> list[str]:
    """Risky but legal settings, said once at start-up (each line names the key)."""
    warnings = []
    if not settings.wechat.demo and settings.wechat.token.get_secret_value() == "policybot-dev":
        warnings.append(
            "wechat.token: the default callback token with a real appid lets anyone sign "
            "callbacks; set the token configured in the WeChat admin console"
        )
    base = urlsplit(settings.server.base_url)
    if base.scheme == "http" and base.hostname not in LOOPBACK_HOSTS:
        warnings.append(
            "server.base_url: http:// sends residents' links and console sessions unencrypted; "
            "use the public https:// address"
        )
    several = role != "all" or settings.database.url.startswith(("postgres", "asyncpg"))
    if several and not settings.admin.session_secret.get_secret_value():
        warnings.append(
            "admin.session_secret: empty, so each process signs residents' cookies with its own "
            "random key and a cookie from one process is refused by the others; set one secret"
        )
    return warnings


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
