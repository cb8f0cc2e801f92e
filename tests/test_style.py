"""One style for the whole tree, checked where every change is checked: ``ruff
format`` (the one formatting), ``ruff check`` and ``mypy`` with the project's
settings in pyproject.toml (``disallow_untyped_defs``)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_format_and_lint_are_clean() -> None:
    formatted = _run(sys.executable, "-m", "ruff", "format", "--check", "bot", "tests", "bench")
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
    linted = _run(sys.executable, "-m", "ruff", "check", ".")
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_mypy_is_clean() -> None:
    typed = _run(sys.executable, "-m", "mypy", "bot")
    assert typed.returncode == 0, typed.stdout[-4000:]
