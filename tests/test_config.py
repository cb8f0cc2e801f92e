"""Configuration as an operator meets it: a TOML file, environment overrides,
and one clear line naming the key when something is wrong."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings


def test_defaults_match_the_contract(tmp_path: Path) -> None:
    s = load_settings(None, environ={})
    assert (s.server.host, s.server.port) == ("127.0.0.1", 8080)
    assert s.server.base_url == "http://127.0.0.1:8080"
    assert s.server.timezone == "Asia/Shanghai"
    assert s.database.url.startswith("sqlite://./data/")
    assert s.wechat.token.get_secret_value() == "policybot-dev"
    assert s.wechat.api_base_url == "https://api.weixin.qq.com/"
    assert s.wechat.callback_path == "/wechat"
    assert s.push.rate_per_second == 20
    assert s.push.quiet_hours == "22:00-08:00"
    assert s.wechat.demo


def test_toml_then_environment_override(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        "[server]\nport = 9000\n[push]\nrate_per_second = 50\n"
        '[admin]\napi_tokens = [{token = "t1-5d0c8e2b7a9f4136e1c0ab", role = "editor", name = "李编辑"}]\n',
        encoding="utf-8",
    )
    s = load_settings(
        path,
        environ={
            "POLICYBOT_SERVER_PORT": "9100",
            "POLICYBOT_DATABASE_URL": "postgres://u:p@h:5432/d",
        },
    )
    assert s.server.port == 9100
    assert s.push.rate_per_second == 50
    assert s.database.url == "postgres://u:p@h:5432/d"
    assert s.admin.api_tokens[0].role == "editor"


def test_environment_json_values(tmp_path: Path) -> None:
    s = load_settings(
        None,
        environ={
            "POLICYBOT_ADMIN_API_TOKENS": '[{"token": "x-5d0c8e2b7a9f4136e1c0aa", "role": "reviewer"}]',
            "POLICYBOT_PUSH_QUIET_HOURS": "",
        },
    )
    assert s.admin.api_tokens[0].role == "reviewer"
    assert s.push.quiet_hours == ""


@pytest.mark.parametrize(
    "toml, environ, key",
    [
        ("[server]\nprot = 1\n", {}, "server.prot: unknown key"),
        ("[server]\nport = 'abc'\n", {}, "server.port:"),
        ("[server]\nbase_url = 'ftp://x'\n", {}, "server.base_url: must be an http(s) URL"),
        ("[server]\ntimezone = 'Mars/Base'\n", {}, "server.timezone: unknown time zone"),
        ("[database]\nurl = 'mysql://x'\n", {}, "database.url:"),
        ("[push]\nquiet_hours = '22-8'\n", {}, "push.quiet_hours:"),
        ("", {"POLICYBOT_WECHAT_ENCODING_AES_KEY": "short"}, "wechat.encoding_aes_key:"),
        ("", {"POLICYBOT_NOPE_X": "1"}, "POLICYBOT_NOPE_X: unknown setting"),
        (
            "[admin]\napi_tokens = [{token = 'x-5d0c8e2b7a9f4136e1c0aa', role = 'boss'}]\n",
            {},
            "admin.api_tokens.0.role:",
        ),
        ("[server\n", {}, "not valid TOML"),
    ],
)
def test_bad_config_names_the_key(
    tmp_path: Path, toml: str, environ: dict[str, str], key: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(path, environ=environ)
    assert key in str(err.value)
    assert "\n" not in str(err.value)


def test_secrets_never_printed(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        "[wechat]\nsecret = 'TOP-SECRET-VALUE'\nencoding_aes_key = 'also-secret-but-wrong-length'\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot", "-c", str(path), "ask", "帮助"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "wechat.encoding_aes_key" in result.stderr
    assert "TOP-SECRET" not in result.stderr + result.stdout
    assert "also-secret" not in result.stderr + result.stdout
    s = load_settings(path, environ={"POLICYBOT_WECHAT_ENCODING_AES_KEY": ""})
    assert "TOP-SECRET" not in repr(s)


def test_example_config_documents_every_key() -> None:
    """config.example.toml loads as it is and names every key the settings know."""
    import tomllib

    from bot.config import Settings

    example = Path(__file__).resolve().parent.parent / "config.example.toml"
    text = example.read_text(encoding="utf-8")
    Settings.model_validate(tomllib.loads(text))
    for section, field in Settings.model_fields.items():
        assert f"[{section}]" in text
        for name, info in field.annotation.model_fields.items():  # type: ignore[union-attr]
            key = info.alias or name  # email.from is ``from_`` in Python
            assert f"\n{key} =" in text or f"\n# {key} =" in text, f"{section}.{key} undocumented"


# -- credentials (issue 9 item 28) ----------------------------------------------------------

STRONG = "9c1e5b7f3a2d8e6c4b0a1f9e"


@pytest.mark.parametrize(
    "tokens, reason",
    [
        pytest.param([""], "shorter than 24", id="empty"),
        pytest.param(["x"], "shorter than 24", id="one-character"),
        pytest.param(["a" * 40], "repetitive", id="one-letter-repeated"),
        pytest.param(["abc123" * 5], "repetitive", id="pattern-repeated"),
        pytest.param(["123456789012345678901234"], "too short for its characters", id="digits"),
        pytest.param([STRONG, STRONG], "duplicate", id="duplicate"),
    ],
)
def test_weak_or_duplicate_admin_tokens_stop_start_up(tokens: list[str], reason: str) -> None:
    api_tokens = json.dumps([{"token": t, "role": "editor", "name": "李编辑"} for t in tokens])
    with pytest.raises(ConfigError) as err:
        load_settings(environ={"POLICYBOT_ADMIN_API_TOKENS": api_tokens})
    message = str(err.value)
    assert message.startswith("admin.api_tokens:") and reason in message
    assert "李编辑" in message  # which token, by its holder's name…
    assert all(t not in message for t in tokens if t)  # …never by its value


def test_risky_settings_are_warned_about_at_start_up() -> None:
    from bot.config import security_warnings

    quiet = load_settings(environ={})
    assert security_warnings(quiet) == []  # the demo on loopback is fine as it is
    risky = load_settings(
        environ={
            "POLICYBOT_WECHAT_APPID": "wx1234567890abcdef",
            "POLICYBOT_SERVER_BASE_URL": "http://policy.example.gov.cn",
        }
    )
    warned = security_warnings(risky, role="web")
    assert [w.split(":")[0] for w in warned] == [
        "wechat.token",
        "server.base_url",
        "admin.session_secret",
    ]
