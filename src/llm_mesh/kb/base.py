"""A knowledge base at run time (store + embedder + documents), and the set of them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from llm_mesh.errors import InvalidRequest, NotFound, PermissionDenied
from llm_mesh.kb.config import KnowledgeBaseConfig
from llm_mesh.kb.documents import DocumentStore, MemoryDocumentStore
from llm_mesh.kb.store import Filter, Hit, VectorStore


class KnowledgeBase:
    def __init__(self, name: str, config: KnowledgeBaseConfig, store: VectorStore, embedder: Any, documents: DocumentStore) -> None:
        self.name = name
        self.config = config
        self.store = store
        self.embedder = embedder
        self.documents = documents

    async def search(self, query: str, k: int | None = None, filter: Filter | None = None, min_score: float | None = None) -> list[Hit]:
        if not query.strip():
            return []
        k = k or self.config.retrieval.top_k
        floor = self.config.retrieval.min_score if min_score is None else min_score
        [vector] = await self.embedder.embed([query])
        hits = self.store.search(vector, k, filter, text=query)
        return [hit for hit in hits if hit.score >= floor]

    def context(self, hits: list[Hit]) -> str:
        """The retrieved chunks as numbered sources, within the configured size."""
        budget = self.config.retrieval.max_context_chars
        parts: list[str] = []
        for n, hit in enumerate(hits, 1):
            block = f"[{n}] {hit.chunk.title}\n{hit.chunk.text}"
            if len(block) > budget:
                block = block[: max(0, budget)]
            if not block:
                break
            parts.append(block)
            budget -= len(block)
        return "\n\n".join(parts)

    def ingester(self) -> Any:
        from llm_mesh.kb.ingest import Ingester

        return Ingester(self)


def default_data_dir(stores: Any = None) -> Path:
    path = getattr(stores, "path", None)
    if path is not None:
        return Path(path).parent
    return Path(os.environ.get("MESH_DATA_DIR", ".mesh"))


def document_store_for(stores: Any) -> DocumentStore:
    """The documents table of the stores' home (SQLite file or DynamoDB table)."""
    db = getattr(stores, "_db", None)
    if db is not None:
        from llm_mesh.stores.sqlite.kb import SqliteDocumentStore

        return SqliteDocumentStore(db)
    client, names = getattr(stores, "client", None), getattr(stores, "table_names", {}) or {}
    if client is not None and "kb_documents" in names:
        from llm_mesh.stores.dynamodb.kb import DynamoDocumentStore

        return DynamoDocumentStore(client, names["kb_documents"])
    return MemoryDocumentStore()


def make_embedder(name: str, config: KnowledgeBaseConfig, service: Callable[[], Any]) -> Any:
    spec = config.embedding
    if spec.kind == "hashing":
        from llm_mesh.embeddings.hashing import HashingEmbedder

        return HashingEmbedder(spec.dimensions)
    if spec.kind == "route":
        from llm_mesh.embeddings.route import RouteEmbedder

        return RouteEmbedder(spec.route or "", service, owner=name)
    from llm_mesh.embeddings.local import LocalEmbedder

    return LocalEmbedder(spec.model)


class KnowledgeBases:
    """Every configured knowledge base, opened on first use."""

    def __init__(
        self, configs: dict[str, KnowledgeBaseConfig], *, data_dir: str | Path, documents: DocumentStore | None = None,
        service: Any = None, transports: dict[str, Any] | None = None, embedders: dict[str, Any] | None = None,
    ) -> None:
        self.configs = dict(configs)
        self.data_dir = Path(data_dir)
        self.documents = documents or MemoryDocumentStore()
        self.service = service
        self._transports = dict(transports or {})
        self._embedders = dict(embedders or {})
        self._open: dict[str, KnowledgeBase] = {}

    def bind_service(self, service: Any) -> None:
        self.service = service

    def get(self, name: str) -> KnowledgeBase:
        kb = self._open.get(name)
        if kb is not None:
            return kb
        config = self.configs.get(name)
        if config is None:
            raise NotFound(f"no knowledge base named {name!r}", code="knowledge_base_not_found")
        from llm_mesh.kb.stores import open_store

        store = open_store(name, config, self.data_dir, transport=self._transports.get(name))
        embedder = self._embedders.get(name) or make_embedder(name, config, lambda: self.service)
        kb = self._open[name] = KnowledgeBase(name, config, store, embedder, self.documents)
        return kb

    def for_reader(self, name: str, app: str) -> KnowledgeBase:
        config = self.configs.get(name)
        if config is None:
            raise NotFound(f"no knowledge base named {name!r}", code="knowledge_base_not_found")
        if not config.may_read(app):
            raise PermissionDenied(f"app {app!r} may not read the knowledge base {name!r}", code="knowledge_base_forbidden")
        return self.get(name)


def validate_query(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest("query must be a non-empty string", param="query")
    if len(value) > 8_000:
        raise InvalidRequest("query is longer than 8000 characters", param="query")
    return value
