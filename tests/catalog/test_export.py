"""``policybot content export DIR``: console-made documents as content files that
``content check`` passes and ``content sync`` imports as they were; the draft diff."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.audit import Actor
from bot.catalog import attachments, publishing
from bot.catalog.loader import load_content
from bot.catalog.models import Policy
from bot.config import Settings
from bot.errors import Conflict, NotFound
from bot.services import Services, open_services
from tests.conftest import make_settings
from tests.processes import settings_env

WRITER = Actor("张发布", "publisher")
REVIEWER = Actor("王审核", "reviewer")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
TODAY = dt.date.today()


@pytest.fixture
def export_settings(db_url: str, fake_wechat: Any, tmp_path: Path) -> Settings:
    return make_settings(db_url, fake_wechat.url, attachments={"dir": str(tmp_path / "up")})


@pytest.fixture
async def catalog(export_settings: Settings) -> AsyncIterator[Services]:
    async with open_services(export_settings, sync_content=True) as svc:
        yield svc


def policybot(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], env=settings_env(settings, **env),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


async def _publish(data: dict[str, Any]) -> None:
    await publishing.save_draft(data, WRITER)
    await publishing.submit(data["id"], WRITER)
    version = await publishing.working_version(data["id"])
    assert version is not None
    await publishing.publish(data["id"], REVIEWER, TODAY, version.content_hash)


async def test_export_writes_console_documents_that_check_and_sync(
    catalog: Services, export_settings: Settings, tmp_path: Path, sqlite_template: Path
) -> None:
    image, _ = attachments.store_upload(PNG, export_settings.attachments.dir, 10_000)
    made = {
        "id": "console-1", "title": "青山县关于做好2025年冬季救助工作的通知",
        "issuer": "青山县民政局", "written_on": TODAY.isoformat(), "doc_number": "青民发〔2025〕30号",
        "areas": ["社会救助"], "topics": ["relief"], "keywords": ["冬季救助"],
        "summary": "做好冬季困难群众救助。", "requires_interpretation": True,
        "attachments": [{"file": image, "title": "一图读懂"}],
        "body": "各镇（乡）人民政府：\n\n## 一、摸排\n\n1. 入户走访；\n2. 建立台账。",
        "interpretations": [{"id": "jd-console-1", "title": "冬季救助解读", "form": "图解",
                             "body": "谁能领取？"}],
    }  # fmt: skip
    await _publish(made)
    await publishing.save_draft({**made, "id": "console-draft", "interpretations": []}, WRITER)

    out = tmp_path / "export"
    result = policybot(export_settings, "content", "export", str(out))
    assert result.returncode == 0, result.stderr
    assert "1 篇政策、1 篇解读、1 个附件" in result.stderr
    assert sorted(p.name for p in (out / "policies").iterdir()) == ["console-1.md"]  # no drafts
    assert not (out / "policies" / "qmf-2023-9-dibao-procedure.md").exists()  # files stay files
    assert (out / "attachments" / image).read_bytes() == PNG
    check = policybot(export_settings, "content", "check", str(out))
    assert check.returncode == 0, check.stdout + check.stderr

    # what the files say is what the database holds
    content = load_content(out)
    (doc,) = content.policies
    row = await Policy.get(id="console-1")
    for key in ("title", "issuer", "written_on", "published_on", "doc_number", "summary",
                "keywords", "requires_interpretation", "attachments"):  # fmt: skip
        assert getattr(doc, key) == getattr(row, key), key
    assert doc.body_md.strip() == row.body_md.strip() and doc.topics == ["relief"]
    assert [(i.id, i.policy, i.form.value) for i in content.interpretations] == [
        ("jd-console-1", "console-1", "图解")
    ]

    # and content sync imports them into another database as they were
    fresh = tmp_path / "other.sqlite3"
    shutil.copy(sqlite_template, fresh)
    other = make_settings(f"sqlite://{fresh}", "http://127.0.0.1:9/", out)
    synced = policybot(other, "content", "sync", str(out))
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert "policy: +1" in synced.stderr and "interpretation: +1" in synced.stderr


async def test_the_draft_diff_shows_what_a_correction_changes(catalog: Services) -> None:
    base = {"id": "diff-1", "title": "关于调整补贴标准的通知", "issuer": "青山县民政局",
            "written_on": TODAY.isoformat(), "body": "补贴标准为每人每月100元。\n\n第二段不变。"}  # fmt: skip
    await _publish(base)
    with pytest.raises(NotFound):
        await publishing.diff_against_published("diff-1")
    hostile = "补贴标准为每人每月120元。<script>alert(1)</script>\n\n第二段不变。"
    await publishing.save_draft(
        {**base, "body": hostile, "title": "关于调整补贴标准的通知（更正）"}, WRITER
    )
    html = await publishing.diff_against_published("diff-1")
    assert '<tr class="del"><th>−</th><td>补贴标准为每人每月100元。</td></tr>' in html
    assert "每人每月120元。&lt;script&gt;" in html and "<script>" not in html
    assert '<tr class="add"><th>+</th><td>title: 关于调整补贴标准的通知（更正）</td></tr>' in html
    assert '<tr class="same"><th> </th><td>第二段不变。</td></tr>' in html


async def test_an_export_synced_back_is_taken_over_by_the_files(
    catalog: Services, export_settings: Settings, tmp_path: Path
) -> None:
    made = {"id": "console-2", "title": "青山县关于印发临时救助操作规程的通知",
            "issuer": "青山县民政局", "written_on": TODAY.isoformat(), "topics": ["relief"],
            "body": "第一条 为规范临时救助……",
            "interpretations": [{"id": "jd-console-2", "title": "临时救助解读", "body": "怎么申请？"}]}  # fmt: skip
    await _publish(made)
    changed = {**made, "id": "console-3", "interpretations": []}
    await _publish(changed)
    content = tmp_path / "content"  # the county's own folder, files and console in step
    shutil.copytree(export_settings.content.dir, content)
    result = policybot(export_settings, "content", "export", str(content))
    assert result.returncode == 0, result.stderr
    assert not (content / "areas.yaml").read_text(encoding="utf-8").startswith("- id:")  # kept
    edited = content / "policies" / "console-3.md"
    edited.write_text(
        edited.read_text(encoding="utf-8").replace("第一条", "第1条"), encoding="utf-8"
    )

    synced = policybot(export_settings, "content", "sync", str(content))
    assert "console-3.md" in synced.stdout and "已被管理后台创建的政策文件占用" in synced.stdout
    assert "console-2" not in synced.stdout  # as published: the file takes it over
    adopted = await Policy.get(id="console-2")
    assert (
        adopted.source_path == "policies/console-2.md" and adopted.body_md.strip() == made["body"]
    )
    assert (await Policy.get(id="console-3")).source_path is None  # differs: console keeps it
    with pytest.raises(Conflict):  # from now on the file is where it is changed
        await publishing.save_draft({**made, "body": "改"}, WRITER)
