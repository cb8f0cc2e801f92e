"""Attachments of a policy page: the signed original as PDF, 图解 images, video.

A file's type is decided by its first bytes (magic numbers), never by its
name or by what a browser sent, so a script renamed ``.png`` is refused on
upload and never served. Files come from two places, looked up by name:
``content/attachments/`` (kept in git beside the Markdown) and the uploads
folder (``attachments.dir``, under ``data/``), where an upload is stored
under the hash of its bytes, so the same file twice is one file and a name
can never point outside the folder.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bot.errors import Invalid

CONTENT_FOLDER = "attachments"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

Kind = Literal["pdf", "image", "video"]


@dataclass(frozen=True)
class FileType:
    extension: str
    content_type: str
    kind: Kind


# (prefix at offset, type); checked in order.
_MAGIC: list[tuple[int, bytes, FileType]] = [
    (0, b"%PDF-", FileType("pdf", "application/pdf", "pdf")),
    (0, b"\x89PNG\r\n\x1a\n", FileType("png", "image/png", "image")),
    (0, b"\xff\xd8\xff", FileType("jpg", "image/jpeg", "image")),
    (0, b"GIF87a", FileType("gif", "image/gif", "image")),
    (0, b"GIF89a", FileType("gif", "image/gif", "image")),
]
_MP4 = FileType("mp4", "video/mp4", "video")
_MP4_BRANDS = {
    b"isom",
    b"iso2",
    b"iso4",
    b"iso5",
    b"iso6",
    b"mp41",
    b"mp42",
    b"avc1",
    b"M4V ",
    b"dash",
}
KIND_NAMES = {"pdf": "PDF 原件", "image": "图片", "video": "视频"}


def sniff(head: bytes) -> FileType | None:
    """The type the bytes say they are (PDF, PNG, JPEG, GIF, WebP, MP4), or None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return FileType("webp", "image/webp", "image")
    if head[4:8] == b"ftyp" and head[8:12] in _MP4_BRANDS:  # not HEIC/AVIF images, not QuickTime
        return _MP4
    for offset, magic, kind in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return kind
    return None


def valid_name(name: str) -> bool:
    return bool(NAME_RE.fullmatch(name)) and ".." not in name


def locate(name: str, content_dir: Path, uploads: Path) -> Path | None:
    """The file called ``name`` in the content folder's attachments, else in the uploads."""
    if not valid_name(name):
        return None
    for folder in (Path(content_dir) / CONTENT_FOLDER, Path(uploads)):
        path = folder / name
        if path.is_file():
            return path
    return None


def read_type(path: Path) -> FileType | None:
    with path.open("rb") as file:
        return sniff(file.read(16))


def too_large(max_bytes: int, filename: str = "") -> Invalid:
    """The refusal of a file over ``attachments.max_bytes``."""
    named = f"“{filename}”" if filename else "文件"
    return Invalid("file_too_large", f"{named}过大（最大 {max_bytes // (1024 * 1024)} MB）")


def store_upload(data: bytes, uploads: Path, max_bytes: int) -> tuple[str, FileType]:
    """Keep an uploaded file under the hash of its bytes; returns (name, type).

    Refused (and nothing written) when empty, too large or of a type we do not serve."""
    if not data:
        raise Invalid("empty_file", "文件为空")
    if len(data) > max_bytes:
        raise too_large(max_bytes)
    kind = sniff(data[:16])
    if kind is None:
        raise Invalid(
            "file_type", "只接受 PDF、PNG、JPEG、GIF、WebP 图片和 MP4 视频（按文件内容识别）"
        )
    name = f"{hashlib.sha256(data).hexdigest()[:32]}.{kind.extension}"
    folder = Path(uploads)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    if not target.exists():
        partial = folder / f".{name}.{os.getpid()}.part"
        partial.write_bytes(data)
        partial.replace(target)  # atomic: a reader never sees half a file
    return name, kind
