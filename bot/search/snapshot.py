"""The index on disk: a restart or a second process loads it in seconds instead
of cutting every document with jieba again.

A snapshot is a directory of raw arrays plus ``meta.json``. The main postings
of every term are concatenated into ``slots.npy`` (int32) and ``weights.npy``
(uint8) with ``offsets.npy`` marking where each term's run starts; they are
opened with ``np.load(mmap_mode="r")``, so every process on the machine shares
the same page-cache pages and a term's postings are a zero-copy slice
(``MappedPostings``). The per-slot ``DocInfo`` rows are JSON, one after the
other in ``rows.npy`` with ``row_offsets.npy``, mapped too and decoded only
when a hit shows one (``MappedDocs``); alive flags and priors are read into
memory, and the key, 文号 and interpretation maps derived from the rows.

The snapshot is only valid for the analyser that made it: ``version_key``
hashes everything that decides how a text is cut and which fields it fills
(jieba's and OpenCC's versions, ``bot/search/data/*``, the words synonyms and
staff rules add to the dictionary, the synonym groups, the indexing code and
the content kinds' code, and the database it was read from). A different key,
a missing file or a checksum mismatch means "no snapshot": the caller
rebuilds. Staff keywords (pins) are not stored: they are applied at load.

Writing is atomic: a new ``snap-*`` directory is filled and fsynced, then the
``CURRENT`` pointer file is replaced; older directories are removed (a process
that still maps their files keeps reading them: unlinked files stay readable).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
import zlib
from collections.abc import Iterable, Iterator, MutableMapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from bot.search.index import PIN, DocInfo, DocTable, InvertedIndex
from bot.search.text import DATA, doc_number_key

log = logging.getLogger("bot.search")

FORMAT = 2  # bump when the files' layout changes
POINTER = "CURRENT"
ARRAYS = ("slots", "weights", "offsets", "alive", "prior", "rows", "row_offsets")
_CODE = [
    Path(__file__).parent / name
    for name in ("index.py", "text.py", "synonyms.py", "source.py", "snapshot.py")
]
_KINDS = Path(__file__).parent.parent / "catalog" / "kinds"
_INFO_FIELDS = [f.name for f in dataclasses.fields(DocInfo)]
RECENT_ROWS = 4096  # decoded rows kept per process (about 3 MB)
_UNREAD: Any = object()


class MappedPostings(MutableMapping[str, tuple[np.ndarray, np.ndarray]]):
    """term → (slots, weights) as slices of the memory-mapped arrays.

    Only the term → position table lives in the process; the postings are read
    from the shared mapping when a query touches them."""

    def __init__(
        self, terms: list[str], offsets: np.ndarray, slots: np.ndarray, weights: np.ndarray
    ) -> None:
        self._position = {term: i for i, term in enumerate(terms)}
        self._offsets = offsets
        self._slots = slots
        self._weights = weights

    def __getitem__(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        i = self._position[term]
        start, end = int(self._offsets[i]), int(self._offsets[i + 1])
        return self._slots[start:end], self._weights[start:end]

    def __setitem__(self, term: str, value: tuple[np.ndarray, np.ndarray]) -> None:
        raise TypeError("mapped postings are read-only; compaction builds a new dict")

    def __delitem__(self, term: str) -> None:
        del self._position[term]

    def __contains__(self, term: object) -> bool:
        return term in self._position

    def __iter__(self) -> Iterator[str]:
        return iter(self._position)

    def __len__(self) -> int:
        return len(self._position)


class MappedDocs(DocTable):
    """The slots of a snapshot, each decoded from its JSON row when read; the
    last few thousand read are kept (a query reads its 60 candidates)."""

    def __init__(self, rows: np.ndarray, offsets: np.ndarray) -> None:
        super().__init__()
        self._base = len(offsets) - 1
        self._blob = rows
        self._offsets = offsets
        self._recent: dict[int, DocInfo | None] = {}

    def _read(self, slot: int) -> DocInfo | None:
        info = self._recent.get(slot, _UNREAD)
        if info is _UNREAD:
            start, end = int(self._offsets[slot]), int(self._offsets[slot + 1])
            row = json.loads(self._blob[start:end].tobytes().decode())
            info = None if row is None else DocInfo(*row)
            if len(self._recent) >= RECENT_ROWS:
                self._recent.clear()
            self._recent[slot] = info
        return info


@dataclass
class State:
    """What the search service needs besides the index to carry on refreshing."""

    marker: dict[str, tuple[Any, ...]]
    watermarks: dict[str, str | None]
    day: str


def version_key(words: Iterable[str], groups: Iterable[Iterable[str]], database: str) -> str:
    """A hash of everything that decides what the index holds for a document."""
    h = hashlib.sha256()

    def part(value: str | bytes) -> None:
        data = value.encode() if isinstance(value, str) else value
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)

    part(f"format {FORMAT}")
    for package in ("jieba", "OpenCC", "numpy"):
        try:
            part(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            part(f"{package} ?")
    for item in sorted(DATA.iterdir(), key=lambda p: p.name):
        if item.is_file():
            part(item.name)
            part(item.read_bytes())
    for path in [*_CODE, *sorted(_KINDS.glob("*.py"))]:
        part(path.name)
        part(path.read_bytes())
    part("\x00".join(sorted(set(words))))
    part(json.dumps(sorted(sorted(g) for g in groups), ensure_ascii=False))
    part(_without_password(database))
    return h.hexdigest()


def _without_password(url: str) -> str:
    head, sep, tail = url.partition("@")
    if not sep:
        return url
    scheme, _, user = head.partition("://")
    return f"{scheme}://{user.split(':')[0]}@{tail}"


# ---------------------------------------------------------------------- writing
def save(directory: Path, key: str, index: InvertedIndex, state: State) -> Path:
    """Write the index (main and delta segments merged, pins left out) atomically."""
    directory.mkdir(parents=True, exist_ok=True)
    terms, slots, weights, offsets = _postings(index)
    rows, row_offsets = _rows(index)
    n = index.n_slots
    arrays = {
        "slots": slots,
        "weights": weights,
        "offsets": offsets,
        "alive": np.asarray(index._alive[:n], dtype=bool),
        "prior": np.asarray(index._prior[:n], dtype=np.float32),
        "rows": rows,
        "row_offsets": row_offsets,
    }
    target = directory / f"snap-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    work = directory / f".tmp-{uuid.uuid4().hex}"
    work.mkdir()
    try:
        checksums = {}
        for name, array in arrays.items():
            path = work / f"{name}.npy"
            with path.open("wb") as f:
                np.save(f, array, allow_pickle=False)
                f.flush()
                os.fsync(f.fileno())
            checksums[name] = _crc(path)
        blob = "\x00".join(terms).encode()
        _write(work / "terms.bin", blob)
        checksums["terms"] = zlib.crc32(blob)
        meta = {
            "format": FORMAT,
            "key": key,
            "written": dt.datetime.now(dt.UTC).isoformat(),
            "terms": len(terms),
            "slots": n,
            "len_sum": index._len_sum,
            "len_docs": index._len_docs,
            "marker": state.marker,
            "watermarks": state.watermarks,
            "day": state.day,
            "checksums": checksums,
        }
        _write(work / "meta.json", json.dumps(meta, ensure_ascii=False).encode())
        work.rename(target)
        _fsync_dir(directory)
        pointer = directory / f".{POINTER}-{uuid.uuid4().hex}"
        _write(pointer, target.name.encode())
        os.replace(pointer, directory / POINTER)
        _fsync_dir(directory)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    for old in directory.iterdir():
        if old.is_dir() and old != target and old.name.startswith(("snap-", ".tmp-")):
            if old.name.startswith(".tmp-") and time.time() - old.stat().st_mtime < 3600:
                continue  # another writer's work in progress (a crashed one's is removed later)
            shutil.rmtree(old, ignore_errors=True)
    return target


def _postings(index: InvertedIndex) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Every term's main and delta postings in one run per term, dead slots dropped
    (as ``compact`` would): the arrays a fresh build would have."""
    terms = sorted(t for t in {*index.main, *index.delta} if not t.startswith(PIN))
    slot_parts: list[np.ndarray] = []
    weight_parts: list[np.ndarray] = []
    lengths = np.zeros(len(terms), dtype=np.int64)
    for i, term in enumerate(terms):
        for pair in (index.main.get(term), index.delta.get(term)):
            if pair is not None:
                slot_parts.append(np.asarray(pair[0], dtype=np.int32))
                weight_parts.append(np.asarray(pair[1], dtype=np.uint8))
                lengths[i] += len(pair[0])
    if not slot_parts:
        return [], np.zeros(0, np.int32), np.zeros(0, np.uint8), np.zeros(1, np.int64)
    slots = np.concatenate(slot_parts)
    weights = np.concatenate(weight_parts)
    keep = index._alive[slots]
    term_of = np.repeat(np.arange(len(terms)), lengths)[keep]
    counts = np.bincount(term_of, minlength=len(terms))
    present = counts > 0
    offsets = np.concatenate([[0], np.cumsum(counts[present])]).astype(np.int64)
    kept_terms = [t for t, p in zip(terms, present.tolist(), strict=True) if p]
    return kept_terms, slots[keep], weights[keep], offsets


def _rows(index: InvertedIndex) -> tuple[np.ndarray, np.ndarray]:
    """Every slot's ``DocInfo`` as a JSON row (null: removed), and where each starts."""
    parts = []
    for info in index.infos:
        row = None if info is None else [getattr(info, name) for name in _INFO_FIELDS]
        parts.append(json.dumps(row, ensure_ascii=False).encode())
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(p) for p in parts], dtype=np.int64)
    return np.frombuffer(b"".join(parts), dtype=np.uint8), offsets


def _write(path: Path, data: bytes) -> None:
    with path.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _crc(path: Path) -> int:
    crc = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            crc = zlib.crc32(chunk, crc)
    return crc


# ---------------------------------------------------------------------- reading
def load(directory: Path, key: str, index: InvertedIndex) -> State | None:
    """Fill an empty index from the current snapshot; None if there is none that
    fits this analyser, or it is damaged (the caller rebuilds)."""
    try:
        name = (directory / POINTER).read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        log.warning("search snapshot unreadable: %s", exc)
        return None
    try:
        return _load(directory / name, key, index)
    except Exception as exc:  # damaged in any way: never fatal, the caller rebuilds
        log.warning("search snapshot %s unusable (%s); rebuilding", name, exc)
        return None


def _load(path: Path, key: str, index: InvertedIndex) -> State | None:
    meta = json.loads((path / "meta.json").read_bytes())
    if meta.get("format") != FORMAT or meta.get("key") != key:
        log.info("search snapshot made by another analyser or dictionary; rebuilding")
        return None
    checksums = meta["checksums"]
    arrays = {}
    for name in ARRAYS:
        file = path / f"{name}.npy"
        if _crc(file) != checksums[name]:
            raise ValueError(f"{name}.npy checksum mismatch")
        # A plain ndarray over the mapping: slicing a ``np.memmap`` costs more per query.
        arrays[name] = np.asarray(np.load(file, mmap_mode="r", allow_pickle=False))
    blob = (path / "terms.bin").read_bytes()
    if zlib.crc32(blob) != checksums["terms"]:
        raise ValueError("terms.bin checksum mismatch")
    terms = blob.decode().split("\x00") if blob else []
    n = int(meta["slots"])
    offsets = np.array(arrays["offsets"])  # small; read once
    slots, weights = arrays["slots"], arrays["weights"]
    row_offsets = arrays["row_offsets"]
    if (
        len(terms) != meta["terms"]
        or len(offsets) != len(terms) + 1
        or len(row_offsets) != n + 1
        or int(row_offsets[-1]) != len(arrays["rows"])
        or len(arrays["alive"]) != n
        or len(arrays["prior"]) != n
        or int(offsets[-1]) != len(slots)
        or len(weights) != len(slots)
    ):
        raise ValueError("sizes disagree")
    index.main = MappedPostings(terms, offsets, slots, weights)  # type: ignore[assignment]
    index._alive = np.array(arrays["alive"], dtype=bool)
    index._prior = np.array(arrays["prior"], dtype=np.float32)
    # The rows are scanned once from a private copy: reading every row through the
    # mapping would keep all its pages in this process's resident memory.
    copy = np.load(path / "rows.npy", allow_pickle=False)
    _note_slots(index, MappedDocs(copy, row_offsets))
    del copy
    index.infos = MappedDocs(arrays["rows"], row_offsets)
    index._len_sum = {k: float(v) for k, v in meta["len_sum"].items()}
    index._len_docs = int(meta["len_docs"])
    marker = {k: tuple(v) for k, v in meta["marker"].items()}
    return State(marker, dict(meta["watermarks"]), str(meta["day"]))


def _note_slots(index: InvertedIndex, docs: MappedDocs) -> None:
    """The key, 文号 and interpretation maps, as ``InvertedIndex._new_slot`` makes them."""
    for slot in range(len(docs)):
        info = docs[slot]  # one row at a time: never all of them at once
        if info is not None:  # None: a slot whose document was replaced or withdrawn
            docno = doc_number_key(info.doc_number) if info.doc_number else None
            index.note_slot(info, docno, slot)
