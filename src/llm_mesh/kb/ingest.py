"""Ingestion: files -> chunks -> vectors, with content-hash dedupe.

A file whose sha256 matches the recorded one is skipped without being parsed or
embedded, so a re-ingest of a large folder touches only what changed. A changed
file's old chunks are removed before its new ones are written; ``prune`` removes
the sources under the given folders that disappeared.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from llm_mesh.kb.chunking import chunk_text
from llm_mesh.kb.documents import DocumentRecord, DocumentStore
from llm_mesh.kb.readers import SUPPORTED, read_document
from llm_mesh.kb.store import Chunk, VectorStore


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    chunks: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"added": len(self.added), "updated": len(self.updated), "unchanged": self.unchanged,
                "removed": len(self.removed), "failed": self.failed, "chunks": self.chunks, "seconds": round(self.seconds, 3)}


def source_name(path: Path) -> str:
    """A stable name for a file: relative to the working directory when inside it."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def discover(paths: Iterable[str | Path]) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if Path(name).suffix.lower() in SUPPORTED and not name.startswith("."):
                        yield Path(root) / name
        elif path.is_file():
            yield path
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")


def chunk_id(source: str, position: int) -> str:
    return f"{hashlib.sha256(source.encode()).hexdigest()[:16]}:{position}"


class Ingester:
    def __init__(self, kb: "KnowledgeBase") -> None:  # type: ignore[name-defined]  # noqa: F821
        self.kb = kb

    @property
    def store(self) -> VectorStore:
        return self.kb.store

    @property
    def documents(self) -> DocumentStore:
        return self.kb.documents

    async def ingest_bytes(self, source: str, data: bytes, suffix_path: Path, report: IngestReport) -> None:
        digest = hashlib.sha256(data).hexdigest()
        known = self.documents.get_document(self.kb.name, source)
        if known is not None and known.content_hash == digest:
            report.unchanged += 1
            return
        title, text = read_document(suffix_path, data if suffix_path.suffix.lower() != ".pdf" else None)
        sizes = self.kb.config.chunking
        pieces = chunk_text(text, sizes.size, sizes.overlap)
        chunks = [Chunk(chunk_id(source, n), source, piece, title, n) for n, piece in enumerate(pieces)]
        vectors = await self.kb.embedder.embed([c.text for c in chunks]) if chunks else []
        self.store.delete_source(source)
        self.store.upsert(chunks, vectors)
        self.documents.put_document(DocumentRecord(self.kb.name, source, digest, title, tuple(c.id for c in chunks), time.time()))
        (report.updated if known is not None else report.added).append(source)
        report.chunks += len(chunks)

    async def ingest(
        self, paths: Iterable[str | Path], *, prune: bool = False, progress: Callable[[int], None] | None = None,
        files: list[Path] | None = None,
    ) -> IngestReport:
        started = time.perf_counter()
        report = IngestReport()
        paths = list(paths)
        files = files if files is not None else list(discover(paths))
        seen: set[str] = set()
        for path in files:
            source = source_name(path)
            seen.add(source)
            try:
                await self.ingest_bytes(source, path.read_bytes(), path, report)
            except Exception as error:  # one bad file must not stop a folder
                report.failed[source] = f"{type(error).__name__}: {error}"[:300]
            if progress is not None:
                progress(1)
        if prune:
            roots = [source_name(Path(p)) for p in paths if Path(p).is_dir()]
            for record in self.documents.list_documents(self.kb.name):
                inside = any(record.source == r or record.source.startswith(r.rstrip("/") + "/") for r in roots)
                if inside and record.source not in seen:
                    self.delete(record.source)
                    report.removed.append(record.source)
        self.store.flush()
        report.seconds = time.perf_counter() - started
        return report

    def delete(self, source: str) -> int:
        removed = self.store.delete_source(source)
        self.documents.delete_document(self.kb.name, source)
        return removed
