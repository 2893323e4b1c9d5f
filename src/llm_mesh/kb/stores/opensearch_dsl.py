"""OpenSearch request bodies for the k-NN vector store, and the response parser.

Pure functions (no client): tests compare them with the documented DSL, and the CDK
custom resource creates the index from the same ``index_body``.

- Index: ``settings.index.knn: true``; ``embedding`` is a ``knn_vector`` with method
  ``hnsw``, engine ``faiss``, space ``cosinesimil``; chunk fields beside it (``text``
  analysed for keyword search, ``source``/``chunk_id`` and other string metadata as
  ``keyword`` for exact filters).
- Vector search: a ``knn`` query with an efficient filter inside it (faiss + hnsw filters
  while it searches, so k results come back when k match).
- Hybrid search: a ``hybrid`` query (a ``match`` on ``text`` and the ``knn`` clause) run
  through a search pipeline whose ``normalization-processor`` min-max-normalises each
  clause's scores and combines them by weighted arithmetic mean.
- Scores: faiss reports ``2 - d`` for cosinesimil, d = 1 - cos, so cos = score - 1
  (lucene reports ``(2 - d) / 2``); hybrid scores are the normalised combination in [0, 1].
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

from llm_mesh.kb.store import Chunk, Filter, Hit, chunk_from_metadata, chunk_metadata

VECTOR_FIELD = "embedding"
TEXT_FIELD = "text"
ID_FIELD = "chunk_id"
MAX_DELETE_BATCH = 10_000


def index_body(dimensions: int, *, engine: str = "faiss", space_type: str = "cosinesimil", m: int = 16,
               ef_construction: int = 128, ef_search: int = 100) -> dict[str, Any]:
    return {
        "settings": {"index": {"knn": True, "knn.algo_param.ef_search": ef_search}},
        "mappings": {
            "dynamic_templates": [
                {"strings_as_keywords": {"match_mapping_type": "string", "mapping": {"type": "keyword"}}},
            ],
            "properties": {
                VECTOR_FIELD: {
                    "type": "knn_vector",
                    "dimension": int(dimensions),
                    "method": {"name": "hnsw", "engine": engine, "space_type": space_type,
                               "parameters": {"m": m, "ef_construction": ef_construction}},
                },
                TEXT_FIELD: {"type": "text"},
                "title": {"type": "text", "fields": {"raw": {"type": "keyword", "ignore_above": 512}}},
                "source": {"type": "keyword"},
                ID_FIELD: {"type": "keyword"},
                "position": {"type": "integer"},
            },
        },
    }


def pipeline_body(vector_weight: float = 0.7) -> dict[str, Any]:
    """The search pipeline for hybrid queries; weights follow the hybrid clause order [keyword, vector]."""
    keyword = round(1.0 - vector_weight, 6)
    return {
        "description": "LLM mesh hybrid retrieval: min-max normalisation, weighted arithmetic mean",
        "phase_results_processors": [
            {"normalization-processor": {
                "normalization": {"technique": "min_max"},
                "combination": {"technique": "arithmetic_mean", "parameters": {"weights": [keyword, round(vector_weight, 6)]}},
            }},
        ],
    }


def filter_clauses(filter: Filter | None) -> list[dict[str, Any]]:
    """Equality -> ``term``; a list of values -> ``terms`` (any of)."""
    clauses: list[dict[str, Any]] = []
    for name, wanted in (filter or {}).items():
        if isinstance(wanted, (list, tuple, set)):
            clauses.append({"terms": {name: list(wanted)}})
        else:
            clauses.append({"term": {name: wanted}})
    return clauses


def _knn_clause(vector: Sequence[float], k: int, filter: Filter | None) -> dict[str, Any]:
    inner: dict[str, Any] = {"vector": [float(x) for x in vector], "k": int(k)}
    clauses = filter_clauses(filter)
    if clauses:
        inner["filter"] = {"bool": {"filter": clauses}}
    return {"knn": {VECTOR_FIELD: inner}}


def knn_body(vector: Sequence[float], k: int, filter: Filter | None = None) -> dict[str, Any]:
    return {"size": int(k), "_source": {"excludes": [VECTOR_FIELD]}, "query": _knn_clause(vector, k, filter)}


def hybrid_body(text: str, vector: Sequence[float], k: int, filter: Filter | None = None) -> dict[str, Any]:
    keyword: dict[str, Any] = {"bool": {"must": [{"match": {TEXT_FIELD: {"query": text}}}]}}
    clauses = filter_clauses(filter)
    if clauses:
        keyword["bool"]["filter"] = clauses
    return {
        "size": int(k),
        "_source": {"excludes": [VECTOR_FIELD]},
        "query": {"hybrid": {"queries": [keyword, _knn_clause(vector, k, filter)]}},
    }


def document(chunk: Chunk, vector: Sequence[float]) -> dict[str, Any]:
    return {**chunk_metadata(chunk), ID_FIELD: chunk.id, VECTOR_FIELD: [float(x) for x in vector]}


def bulk_index_body(index: str, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]], *, with_ids: bool = True) -> str:
    """NDJSON for ``POST /_bulk``: an ``index`` action per chunk (``_id`` = chunk id unless the
    collection assigns ids itself), then the document; ends with a newline as the API requires."""
    lines: list[str] = []
    for chunk, vector in zip(chunks, vectors):
        action: dict[str, Any] = {"_index": index}
        if with_ids:
            action["_id"] = chunk.id
        lines.append(json.dumps({"index": action}, separators=(",", ":")))
        lines.append(json.dumps(document(chunk, vector), separators=(",", ":"), ensure_ascii=False))
    return "\n".join(lines) + "\n"


def bulk_delete_body(index: str, ids: Sequence[str]) -> str:
    return "".join(json.dumps({"delete": {"_index": index, "_id": i}}, separators=(",", ":")) + "\n" for i in ids)


def source_ids_body(source: str, size: int = MAX_DELETE_BATCH) -> dict[str, Any]:
    """The documents of one source, ids only (``_source: false``)."""
    return {"size": size, "_source": False, "query": {"bool": {"filter": [{"term": {"source": source}}]}}}


def cosine_from_score(score: float, engine: str) -> float:
    if engine == "lucene":
        return 2.0 * score - 1.0
    return score - 1.0


def parse_hits(response: Mapping[str, Any], *, engine: str = "faiss", hybrid: bool = False) -> list[Hit]:
    hits: list[Hit] = []
    for raw in (response.get("hits") or {}).get("hits") or []:
        source = raw.get("_source") or {}
        chunk_id = str(source.get(ID_FIELD) or raw.get("_id"))
        metadata = {k: v for k, v in source.items() if k != ID_FIELD}
        score = float(raw.get("_score") or 0.0)
        hits.append(Hit(chunk_from_metadata(chunk_id, metadata), score if hybrid else cosine_from_score(score, engine)))
    return hits


def bulk_errors(response: Mapping[str, Any] | None) -> list[str]:
    """Reasons of the failed items of a ``_bulk`` response (a 404 on delete is not a failure)."""
    if not response or not response.get("errors"):
        return []
    reasons: list[str] = []
    for item in response.get("items") or []:
        for action, result in item.items():
            status = int(result.get("status", 200))
            if status >= 300 and not (action == "delete" and status == 404):
                error = result.get("error") or {}
                reasons.append(f"{action} {result.get('_id')}: {error.get('type', status)}")
    return reasons
