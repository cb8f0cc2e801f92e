"""Configuration as an operator meets it: a TOML file, environment overrides,
and one clear line naming the key when something is wrong."""

from __future__ import annotations

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
        '[admin]\napi_tokens = [{token = "t1", role = "editor", name = "李编辑"}]\n',
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
            "POLICYBOT_ADMIN_API_TOKENS": '[{"token": "x", "role": "reviewer"}]',
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
        ("[admin]\napi_tokens = [{token = 'x', role = 'boss'}]\n", {}, "admin.api_tokens.0.role:"),
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
