"""What the ingester remembers per source file: its content hash and the chunks it produced."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class DocumentRecord:
    kb: str
    source: str
    content_hash: str  # sha256 hex of the file's bytes
    title: str
    chunk_ids: tuple[str, ...]
    updated_at: float


class DocumentStore(Protocol):
    def get_document(self, kb: str, source: str) -> DocumentRecord | None: ...

    def list_documents(self, kb: str) -> list[DocumentRecord]:
        """Sorted by source."""
        ...

    def put_document(self, record: DocumentRecord) -> None: ...

    def delete_document(self, kb: str, source: str) -> bool: ...


class MemoryDocumentStore:
    """Reference implementation (tests, one-shot tools)."""

    def __init__(self) -> None:
        self._docs: dict[tuple[str, str], DocumentRecord] = {}

    def get_document(self, kb: str, source: str) -> DocumentRecord | None:
        return self._docs.get((kb, source))

    def list_documents(self, kb: str) -> list[DocumentRecord]:
        return sorted((d for (k, _), d in self._docs.items() if k == kb), key=lambda d: d.source)

    def put_document(self, record: DocumentRecord) -> None:
        self._docs[(record.kb, record.source)] = record

    def delete_document(self, kb: str, source: str) -> bool:
        return self._docs.pop((kb, source), None) is not None
