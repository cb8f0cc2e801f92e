"""The house plan's layering: domain packages never import the edges (web, CLI)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parent.parent / "bot"
DOMAIN = ["catalog", "search", "push", "feedback", "participation"]
EDGES = ("bot.web", "bot.cli")


def _imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append(node.module)
    return found


@pytest.mark.parametrize("package", DOMAIN)
def test_domain_packages_import_no_edge(package: str) -> None:
    files = sorted((BOT / package).rglob("*.py"))
    assert files, package
    bad = [
        f"{path.relative_to(BOT.parent)}: {name}"
        for path in files
        for name in _imports(path)
        if name.startswith(EDGES) and name.split(".")[1] in ("web", "cli")
    ]
    assert bad == []
