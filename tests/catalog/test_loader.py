"""Content loading and ``policybot content check``: every problem located, none fatal."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from bot.catalog.loader import load_content
from bot.cli import main
from tests.conftest import CONTENT


def test_sample_content_loads_cleanly() -> None:
    content = load_content(CONTENT)
    assert content.problems == []
    assert len(content.policies) >= 20 and len(content.interpretations) >= 20
    assert len(content.areas) == 26 and content.topics and content.catalog and content.menu
    paired = {i.policy for i in content.interpretations}
    assert all(p.id in paired for p in content.policies if p.requires_interpretation)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    """A copy of the sample content with one mistake in each of several files."""
    root = tmp_path / "content"
    shutil.copytree(CONTENT, root)
    _edit(
        root / "policies/qzb-2024-12-dibao-standard.md",
        "written_on: 2024-03-15",
        "written_on: 2024-02-30",
    )
    _edit(root / "policies/qzb-2022-21-dibao-standard.md", "validity: 失效", "validity: 作废")
    _edit(root / "policies/qwg-2023-10-library-free-access.md", "\nissuer:", "\nisuer:")
    _edit(root / "interpretations/jd-qmf-2023-15-tekun-support.md",
          "policy: qmf-2023-15-tekun-support", "policy: qmf-2023-15-tekun-suport")  # fmt: skip
    (root / "policies/broken-yaml.md").write_text(
        "---\nid: x\ntitle: [unclosed\n---\n正文\n", encoding="utf-8"
    )
    _edit(root / "catalog/social-assistance.csv", ",全社会,", ",所有人,")
    return root


def test_check_reports_every_problem_with_path_and_line(
    broken: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["content", "check", str(broken)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert all(re.match(r"^.+:\d+: .+", line) for line in out), out
    expected = [
        ("policies/qzb-2024-12-dibao-standard.md:5:", "written_on"),
        ("policies/qzb-2022-21-dibao-standard.md:", "作废"),
        ("policies/qwg-2023-10-library-free-access.md:4:", "isuer"),
        ("policies/qwg-2023-10-library-free-access.md:1:", "issuer"),
        ("interpretations/jd-qmf-2023-15-tekun-support.md:4:", "qmf-2023-15-tekun-suport"),
        # its policy requires an interpretation, and now has none (三同步)
        ("policies/qmf-2023-15-tekun-support.md:", "requires_interpretation"),
        ("policies/broken-yaml.md:", "YAML"),
        ("catalog/social-assistance.csv:2:", "公开对象"),
    ]
    for where, what in expected:
        assert any(line.startswith(f"{broken}/{where}") and what in line for line in out), (
            where,
            out,
        )

    # One bad file never stops the others: everything else still loads.
    content = load_content(broken)
    sample = load_content(CONTENT)
    assert len(content.policies) == len(sample.policies) - 4
    assert len(content.catalog) == len(sample.catalog) - 1
    assert "qzb-2024-12-dibao-standard" not in {p.id for p in content.policies}


def test_check_passes_on_sample(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["content", "check", str(CONTENT)]) == 0
    assert capsys.readouterr().out == ""
