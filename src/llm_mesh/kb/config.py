"""The ``knowledge_bases`` section of mesh.yaml.

    knowledge_bases:
      handbook:
        description: Employee handbook
        store: {kind: embedded}                 # or opensearch / chroma / pinecone with options
        embedding: {kind: local}                # all-MiniLM-L6-v2 offline; or {kind: route, route: embed}
        chunking: {size: 800, overlap: 120}     # characters
        retrieval: {top_k: 4, min_score: 0.2}
        readers: [support-bot]                  # apps that may read it ("*" for all)
        template: "Answer from these sources...\n{context}"

A route opts in with ``knowledge_base: handbook``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_TEMPLATE = (
    "Answer using the sources below when they are relevant. Cite them as [n]. "
    "If they do not contain the answer, say so.\n\n{context}"
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreConfig(_Strict):
    kind: Literal["embedded", "opensearch", "chroma", "pinecone"] = "embedded"
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="opensearch: endpoint, index, region, service (aoss|es), hybrid; chroma: url, collection; "
        "pinecone: host, namespace, api_key_env",
    )


class EmbeddingConfig(_Strict):
    kind: Literal["local", "route", "hashing"] = "local"
    route: str | None = Field(default=None, description="an embeddings route of this mesh (kind: route)")
    model: str | None = Field(default=None, description="local model name (default all-MiniLM-L6-v2)")
    dimensions: int = Field(default=384, ge=8, le=8192, description="for kind: hashing")

    @model_validator(mode="after")
    def _route_given(self) -> "EmbeddingConfig":
        if self.kind == "route" and not self.route:
            raise ValueError("embedding kind 'route' needs route: NAME")
        return self


class ChunkingConfig(_Strict):
    size: int = Field(default=800, ge=50, le=20_000, description="characters per chunk")
    overlap: int = Field(default=120, ge=0, le=5_000)

    @model_validator(mode="after")
    def _overlap_smaller(self) -> "ChunkingConfig":
        if self.overlap >= self.size:
            raise ValueError("chunking.overlap must be smaller than chunking.size")
        return self


class RetrievalConfig(_Strict):
    top_k: int = Field(default=4, ge=1, le=50)
    min_score: float = Field(default=0.0, ge=-1, le=1)
    max_context_chars: int = Field(default=6_000, ge=100, le=200_000)


class KnowledgeBaseConfig(_Strict):
    description: str | None = None
    store: StoreConfig = StoreConfig()
    embedding: EmbeddingConfig = EmbeddingConfig()
    chunking: ChunkingConfig = ChunkingConfig()
    retrieval: RetrievalConfig = RetrievalConfig()
    readers: tuple[str, ...] | Literal["*"] = Field(default=(), description="apps that may read it, or '*'")
    template: str = DEFAULT_TEMPLATE
    seed: tuple[str, ...] = Field(
        default=(), description="files or folders `mesh serve` ingests while the knowledge base is empty (relative to mesh.yaml)"
    )

    @model_validator(mode="after")
    def _template_has_context(self) -> "KnowledgeBaseConfig":
        if "{context}" not in self.template:
            raise ValueError("template must contain {context}")
        return self

    def may_read(self, app: str) -> bool:
        return self.readers == "*" or app in self.readers


def check_references(config: Any) -> list[str]:
    """Cross-section checks (routes naming knowledge bases, embedding routes, readers)."""
    problems: list[str] = []
    kbs: dict[str, KnowledgeBaseConfig] = getattr(config, "knowledge_bases", {}) or {}
    for name, kb in kbs.items():
        if kb.embedding.kind == "route" and kb.embedding.route not in config.routes:
            problems.append(f"knowledge_bases.{name}.embedding.route: unknown route {kb.embedding.route!r}")
        if kb.readers != "*":
            for app in kb.readers:
                if app not in config.apps:
                    problems.append(f"knowledge_bases.{name}.readers: unknown app {app!r}")
    for route_name, route in config.routes.items():
        kb_name = getattr(route, "knowledge_base", None)
        if kb_name is not None and kb_name not in kbs:
            problems.append(f"routes.{route_name}.knowledge_base: unknown knowledge base {kb_name!r}")
    return problems
