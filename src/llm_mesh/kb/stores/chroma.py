"""ChromaDB as a knowledge-base vector store, over Chroma's HTTP API v2 (httpx; no chromadb package).

    store:
      kind: chroma
      options:
        url: http://chroma:8000
        collection: handbook        # default mesh-kb-<name>
        tenant: default_tenant
        database: default_database
        token: {env: CHROMA_TOKEN}  # optional, sent as "x-chroma-token"

The collection is fetched or created once (``get_or_create``, cosine space); records are
upserted with their text as the document and the chunk fields as metadata; queries send
``query_embeddings``, ``n_results`` and a ``where`` filter and ask for documents,
metadatas and distances. Cosine distance is 1 - cos, so a hit's score is 1 - distance.
"""

from __future__ import annotations

import threading
from typing import Any, Mapping, Sequence
from urllib.parse import quote

from llm_mesh.kb.store import Chunk, Filter, Hit, chunk_from_metadata, chunk_metadata
from llm_mesh.kb.stores.remote import JsonClient, credential_option, json_client, scalar_metadata, write_batches

UPSERT_BATCH = 500


def where_clause(filter: Filter | None) -> dict[str, Any] | None:
    """Chroma's metadata filter: ``{field: value}`` for one equality, ``$in`` for lists, ``$and`` for several."""
    parts: list[dict[str, Any]] = []
    for name, wanted in (filter or {}).items():
        if isinstance(wanted, (list, tuple, set)):
            parts.append({name: {"$in": list(wanted)}})
        else:
            parts.append({name: {"$eq": wanted}})
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"$and": parts}


def upsert_body(chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> dict[str, Any]:
    metadatas = []
    for chunk in chunks:
        meta = chunk_metadata(chunk)
        meta.pop("text")  # the text travels as the record's document
        metadatas.append(scalar_metadata(meta))
    return {
        "ids": [c.id for c in chunks],
        "embeddings": [[float(x) for x in v] for v in vectors],
        "documents": [c.text for c in chunks],
        "metadatas": metadatas,
    }


def query_body(vector: Sequence[float], k: int, filter: Filter | None) -> dict[str, Any]:
    body: dict[str, Any] = {"query_embeddings": [[float(x) for x in vector]], "n_results": int(k),
                            "include": ["documents", "metadatas", "distances"]}
    where = where_clause(filter)
    if where is not None:
        body["where"] = where
    return body


def parse_query(response: Mapping[str, Any]) -> list[Hit]:
    """The first (only) query's columns: ids, documents, metadatas, distances (lists of lists)."""
    ids = (response.get("ids") or [[]])[0]
    documents = (response.get("documents") or [[None] * len(ids)])[0]
    metadatas = (response.get("metadatas") or [[None] * len(ids)])[0]
    distances = (response.get("distances") or [[1.0] * len(ids)])[0]
    hits = []
    for chunk_id, text, meta, distance in zip(ids, documents, metadatas, distances):
        hits.append(Hit(chunk_from_metadata(chunk_id, {**(meta or {}), "text": text or ""}), 1.0 - float(distance)))
    return hits


class ChromaVectorStore:
    def __init__(self, options: Mapping[str, Any], transport: Any = None, default_collection: str = "mesh-kb") -> None:
        self.options = dict(options)
        self.collection = str(self.options.get("collection") or default_collection)
        self.tenant = str(self.options.get("tenant", "default_tenant"))
        self.database = str(self.options.get("database", "default_database"))
        self.dimensions: int | None = self.options.get("dimensions")
        self._transport = transport
        self._client: JsonClient | None = None
        self._collection_id: str | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> JsonClient:
        if self._client is None:
            url = str(self.options.get("url") or "http://localhost:8000")
            headers = {}
            token = credential_option(self.options, "token", "chroma token")
            if token:
                headers["x-chroma-token"] = token
            self._client = json_client(url, headers, self._transport, "Chroma")
        return self._client

    def _collections(self) -> str:
        return f"/api/v2/tenants/{quote(self.tenant, safe='')}/databases/{quote(self.database, safe='')}/collections"

    def collection_path(self) -> str:
        with self._lock:
            if self._collection_id is None:
                created = self.client.request("POST", self._collections(), {
                    "name": self.collection, "get_or_create": True, "metadata": {"hnsw:space": "cosine"}})
                self._collection_id = str(created["id"])
        return f"{self._collections()}/{self._collection_id}"

    def upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        parts = write_batches(self, chunks, vectors, UPSERT_BATCH)
        if parts:
            path = self.collection_path()
            for batch_chunks, batch_vectors in parts:
                self.client.request("POST", f"{path}/upsert", upsert_body(batch_chunks, batch_vectors))

    def delete_source(self, source: str) -> int:
        path = self.collection_path()
        found = self.client.request("POST", f"{path}/get", {"where": {"source": {"$eq": source}}, "include": []}) or {}
        ids = list(found.get("ids") or [])
        if ids:
            self.client.request("POST", f"{path}/delete", {"ids": ids})
        return len(ids)

    def search(self, vector: Sequence[float], k: int, filter: Filter | None = None, text: str | None = None) -> list[Hit]:
        if k <= 0:
            return []
        response = self.client.request("POST", f"{self.collection_path()}/query", query_body(vector, k, filter)) or {}
        return parse_query(response)

    def count(self) -> int:
        return int(self.client.request("GET", f"{self.collection_path()}/count") or 0)

    def flush(self) -> None:
        return None  # Chroma persists each write
