"""The VectorStore protocol every knowledge-base backend implements.

Chunks carry their text and metadata (source, title, position) beside the
vector, as OpenSearch, Chroma and Pinecone keep them; the documents table
(stores/*/kb.py) remembers which chunks came from which file and its hash.
Scores are cosine similarities in [-1, 1] (vectors are normalised on the way in).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, Sequence


@dataclass(frozen=True)
class Chunk:
    id: str  # "<source hash>:<n>", stable for a given source and position
    source: str  # file path or URI the chunk came from
    text: str
    title: str = ""
    position: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float

    def summary(self) -> dict[str, Any]:
        return {"id": self.chunk.id, "title": self.chunk.title, "source": self.chunk.source, "score": round(self.score, 4)}


Filter = Mapping[str, Any]  # field -> value (equality) or list of values (any of)


class VectorStore(Protocol):
    dimensions: int | None

    def upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None: ...

    def delete_source(self, source: str) -> int:
        """Remove every chunk of one source; returns how many were removed (best effort for remote stores)."""
        ...

    def search(self, vector: Sequence[float], k: int, filter: Filter | None = None, text: str | None = None) -> list[Hit]:
        """Top ``k`` chunks by similarity, best first; ``text`` enables hybrid keyword+vector where supported."""
        ...

    def count(self) -> int: ...

    def flush(self) -> None:
        """Persist pending writes (the embedded store writes its files here)."""
        ...


def chunk_metadata(chunk: Chunk) -> dict[str, Any]:
    """The flat metadata document remote stores keep beside each vector."""
    return {"source": chunk.source, "title": chunk.title, "position": chunk.position, "text": chunk.text, **chunk.metadata}


def chunk_from_metadata(chunk_id: str, metadata: Mapping[str, Any]) -> Chunk:
    extra = {k: v for k, v in metadata.items() if k not in ("source", "title", "position", "text", "embedding")}
    return Chunk(
        id=chunk_id,
        source=str(metadata.get("source", "")),
        text=str(metadata.get("text", "")),
        title=str(metadata.get("title", "")),
        position=int(metadata.get("position", 0) or 0),
        metadata=extra,
    )
