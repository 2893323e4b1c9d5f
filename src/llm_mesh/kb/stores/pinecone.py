"""Pinecone as a knowledge-base vector store, over its data-plane REST API (httpx; no pinecone package).

    store:
      kind: pinecone
      options:
        host: https://handbook-abc123.svc.aped-1234.pinecone.io   # the index host
        namespace: handbook           # default: the knowledge base's name
        api_key: {env: PINECONE_API_KEY}   # or {secret: NAME, field: KEY}; api_key_env: VAR also works

The index is created beforehand (metric ``cosine``, the embedding's dimension): Pinecone
indexes are provisioned resources, not something a gateway creates on the fly. Every
request carries ``Api-Key`` and ``X-Pinecone-Api-Version``. Upserts go in batches of 100
(``POST /vectors/upsert``), queries ask for ``topK`` with a metadata ``filter`` and
``includeMetadata``; with the cosine metric a match's score is the cosine similarity.
Delete by source lists the source's ids by prefix (chunk ids start with the source's hash,
``GET /vectors/list``) and deletes them by id, which serverless indexes support.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from llm_mesh.kb.store import Chunk, Filter, Hit, chunk_from_metadata, chunk_metadata
from llm_mesh.kb.stores.remote import JsonClient, batches, credential_option, json_client, scalar_metadata, write_batches

API_VERSION = "2025-04"
UPSERT_BATCH = 100
DELETE_BATCH = 1000


def metadata_filter(filter: Filter | None) -> dict[str, Any] | None:
    """Pinecone's filter language: ``{field: {"$eq": v}}`` or ``{"$in": [...]}``; fields are ANDed."""
    if not filter:
        return None
    return {name: ({"$in": list(wanted)} if isinstance(wanted, (list, tuple, set)) else {"$eq": wanted})
            for name, wanted in filter.items()}


def upsert_body(chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]], namespace: str) -> dict[str, Any]:
    return {
        "vectors": [{"id": c.id, "values": [float(x) for x in v], "metadata": scalar_metadata(chunk_metadata(c), allow_string_lists=True)}
                    for c, v in zip(chunks, vectors)],
        "namespace": namespace,
    }


def query_body(vector: Sequence[float], k: int, filter: Filter | None, namespace: str) -> dict[str, Any]:
    body: dict[str, Any] = {"namespace": namespace, "vector": [float(x) for x in vector], "topK": int(k),
                            "includeMetadata": True, "includeValues": False}
    where = metadata_filter(filter)
    if where is not None:
        body["filter"] = where
    return body


def parse_matches(response: Mapping[str, Any]) -> list[Hit]:
    return [Hit(chunk_from_metadata(str(m["id"]), m.get("metadata") or {}), float(m.get("score") or 0.0))
            for m in response.get("matches") or []]


def source_prefix(source: str) -> str:
    from llm_mesh.kb.ingest import chunk_id

    return chunk_id(source, 0).rsplit(":", 1)[0] + ":"


class PineconeVectorStore:
    def __init__(self, options: Mapping[str, Any], transport: Any = None, default_namespace: str = "") -> None:
        self.options = dict(options)
        self.namespace = str(self.options.get("namespace", default_namespace))
        self.dimensions: int | None = self.options.get("dimensions")
        self._transport = transport
        self._client: JsonClient | None = None

    @property
    def client(self) -> JsonClient:
        if self._client is None:
            host = str(self.options.get("host") or "")
            if not host:
                raise ValueError("pinecone store: options.host (the index host) is required")
            if "://" not in host:
                host = f"https://{host}"
            headers = {"X-Pinecone-Api-Version": str(self.options.get("api_version", API_VERSION))}
            key = credential_option(self.options, "api_key", "pinecone api_key")
            if key:
                headers["Api-Key"] = key
            self._client = json_client(host, headers, self._transport, "Pinecone")
        return self._client

    def upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        for batch_chunks, batch_vectors in write_batches(self, chunks, vectors, UPSERT_BATCH):
            self.client.request("POST", "/vectors/upsert", upsert_body(batch_chunks, batch_vectors, self.namespace))

    def _ids_with_prefix(self, prefix: str) -> list[str]:
        ids: list[str] = []
        params: dict[str, Any] = {"namespace": self.namespace, "prefix": prefix, "limit": 100}
        while True:
            page = self.client.request("GET", "/vectors/list", params=params) or {}
            ids.extend(str(v["id"]) for v in page.get("vectors") or [])
            token = (page.get("pagination") or {}).get("next")
            if not token:
                return ids
            params["paginationToken"] = token

    def delete_source(self, source: str) -> int:
        ids = self._ids_with_prefix(source_prefix(source))
        for batch in batches(ids, DELETE_BATCH):
            self.client.request("POST", "/vectors/delete", {"ids": batch, "namespace": self.namespace})
        return len(ids)

    def search(self, vector: Sequence[float], k: int, filter: Filter | None = None, text: str | None = None) -> list[Hit]:
        if k <= 0:
            return []
        return parse_matches(self.client.request("POST", "/query", query_body(vector, k, filter, self.namespace)) or {})

    def count(self) -> int:
        stats = self.client.request("POST", "/describe_index_stats", {}) or {}
        return int(((stats.get("namespaces") or {}).get(self.namespace) or {}).get("vectorCount", 0))

    def flush(self) -> None:
        return None  # every write is durable when acknowledged
