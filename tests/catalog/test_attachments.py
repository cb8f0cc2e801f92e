"""Attachments: the type is what the bytes are; a content file naming a missing or
disguised file is reported by ``content check``; uploads are kept by content hash."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.catalog import attachments
from bot.catalog.loader import load_content
from bot.errors import Invalid
from tests.conftest import CONTENT

SAMPLES = {
    b"%PDF-1.7\n": "application/pdf",
    b"\x89PNG\r\n\x1a\n\x00\x00": "image/png",
    b"\xff\xd8\xff\xe0\x00\x10JFIF": "image/jpeg",
    b"GIF89a\x01\x00": "image/gif",
    b"RIFF\x00\x00\x00\x00WEBPVP8 ": "image/webp",
    b"\x00\x00\x00\x20ftypisom\x00\x00": "video/mp4",
}


def test_types_come_from_the_bytes_not_the_name() -> None:
    for head, content_type in SAMPLES.items():
        found = attachments.sniff(head)
        assert found is not None and found.content_type == content_type
    for hostile in (b"<!doctype html><script>", b"<svg onload=alert(1)>", b"MZ\x90\x00",
                    b"\x00\x00\x00\x18ftypheic", b""):  # fmt: skip
        assert attachments.sniff(hostile) is None
    for name in ("../x.pdf", "a/b.pdf", ".hidden", "x..pdf", "", "名字.pdf"):
        assert not attachments.valid_name(name)


def test_uploads_are_kept_once_by_content_and_refused_when_wrong(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x01" * 100
    name, kind = attachments.store_upload(png, tmp_path, 1000)
    again, _ = attachments.store_upload(png, tmp_path, 1000)
    assert name == again and name.endswith(".png") and kind.kind == "image"
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no partial files left
    for data, code in ((b"", "empty_file"), (png * 20, "file_too_large"), (b"<html>", "file_type")):
        with pytest.raises(Invalid) as refused:
            attachments.store_upload(data, tmp_path, 1000)
        assert refused.value.code == code
    assert len(list(tmp_path.iterdir())) == 1


def test_content_check_reports_a_missing_or_disguised_attachment(tmp_path: Path) -> None:
    root = tmp_path / "content"
    shutil.copytree(CONTENT, root)
    (root / "attachments" / "fake.png").write_bytes(b"<html><script>alert(1)</script>")
    path = root / "policies" / "qmf-2023-9-dibao-procedure.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("qmf-2023-9-tujie.png", "fake.png"), encoding="utf-8")
    other = root / "policies" / "qzb-2024-12-dibao-standard.md"
    other.write_text(
        other.read_text(encoding="utf-8").replace("\n---\n", "\nattachments: [gone.pdf]\n---\n", 1),
        encoding="utf-8",
    )
    problems = [str(p) for p in load_content(root).errors]
    assert any(
        "qmf-2023-9-dibao-procedure.md:" in p and "attachments/fake.png" in p for p in problems
    )
    assert any(
        "qzb-2024-12-dibao-standard.md:" in p and "attachments/gone.pdf" in p for p in problems
    )
