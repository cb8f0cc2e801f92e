"""The house plan holds: layers read one way and no module imports itself in a
circle. Walks the real imports of every module in ``bot/`` (those inside
functions too; ``if TYPE_CHECKING:`` blocks are for type checkers only)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOT = ROOT / "bot"

EDGES = ("bot.web", "bot.cli", "bot.app", "bot.__main__", "bot.wechat.callback", "bot.wechat.fake")
DOMAINS = ("bot.catalog", "bot.search", "bot.push", "bot.feedback", "bot.participation",
           "bot.accounts", "bot.eligibility", "bot.contacts", "bot.sms")  # fmt: skip
KIT = ("bot.config", "bot.db", "bot.models", "bot.errors", "bot.audit", "bot.logs", "bot.metrics",
       "bot.leases", "bot.text", "bot.keys", "bot.privacy", "bot.wechat.errors",
       "bot.wechat.templates")  # fmt: skip
UPPER = ("bot.handlers", "bot.services", *EDGES)


def _name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _modules() -> dict[str, Path]:
    return {_name(p): p for p in BOT.rglob("*.py") if "migrations" not in p.parts}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            test = node.test
            if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
                isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
            ):
                for child in node.orelse:
                    self.visit(child)
                return
            self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            found.update(a.name for a in node.names)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)

    Visitor().visit(ast.parse(path.read_text(encoding="utf-8")))
    return {m for m in found if m in known and m != name}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _in(name: str, layer: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in layer)


def test_no_import_cycles() -> None:
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert cycles == []


def test_layers_read_one_way() -> None:
    wrong = []
    for name, deps in _graph().items():
        for dep in deps:
            if _in(dep, ("bot.web", "bot.cli", "bot.app")) and not _in(name, EDGES):
                wrong.append(f"{name} → {dep} (only the edges use views and commands)")
            elif _in(name, DOMAINS) and _in(dep, UPPER):
                wrong.append(f"{name} → {dep} (a domain package is below chat and the edges)")
            elif _in(name, KIT) and not _in(dep, KIT):
                wrong.append(f"{name} → {dep} (the shared kit depends on nothing above it)")
    assert sorted(wrong) == []


def test_the_walk_sees_imports() -> None:
    graph = _graph()  # a walk that found nothing would pass the tests above vacuously
    assert "bot.web.routes" in graph["bot.app"]
    assert "bot.search.index" in graph["bot.search"]
    assert "bot.services" not in graph["bot.push.runtime"]  # a TYPE_CHECKING import only
