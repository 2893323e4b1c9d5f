"""Vector store adapters; ``open_store`` picks one from a knowledge base's config.

Client libraries (opensearch-py, chromadb, pinecone) are imported inside the
adapters only, when such a store is used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llm_mesh.kb.config import KnowledgeBaseConfig
from llm_mesh.kb.store import VectorStore


def open_store(name: str, config: KnowledgeBaseConfig, data_dir: str | Path, transport: Any = None) -> VectorStore:
    kind, options = config.store.kind, dict(config.store.options)
    if kind == "embedded":
        from llm_mesh.kb.stores.embedded import EmbeddedVectorStore

        return EmbeddedVectorStore(Path(options.get("path") or Path(data_dir) / "kb" / name))
    if kind == "opensearch":
        from llm_mesh.kb.stores.opensearch import OpenSearchVectorStore

        return OpenSearchVectorStore(options, transport=transport, default_index=f"mesh-kb-{name}")
    if kind == "chroma":
        from llm_mesh.kb.stores.chroma import ChromaVectorStore

        return ChromaVectorStore(options, transport=transport, default_collection=f"mesh-kb-{name}")
    if kind == "pinecone":
        from llm_mesh.kb.stores.pinecone import PineconeVectorStore

        return PineconeVectorStore(options, transport=transport, default_namespace=name)
    raise ValueError(f"unknown vector store kind {kind!r}")
