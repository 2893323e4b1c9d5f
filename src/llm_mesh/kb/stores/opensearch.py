"""Amazon OpenSearch (Serverless or managed) / OpenSearch k-NN as a knowledge-base vector store.

    store:
      kind: opensearch
      options:
        endpoint: https://abc123.eu-west-1.aoss.amazonaws.com
        service: aoss            # SigV4 signing name: aoss (Serverless), es (managed domain); omit for none
        region: eu-west-1        # default: the AWS SDK's region
        index: handbook          # default mesh-kb-<name>
        hybrid: true             # keyword + vector through a normalization-processor pipeline
        vector_weight: 0.7       # share of the vector clause in hybrid scores
        engine: faiss            # faiss (default) or lucene; space cosinesimil
        # username: {env: OS_USER}, password: {env: OS_PASSWORD}  (basic auth, self-managed)

Deployed by the CDK app, ``endpoint`` may be left out: the functions get the collection's
endpoint in ``MESH_OPENSEARCH_ENDPOINT`` (and sign as ``aoss``).

Requests go through opensearch-py (``pip install 'llm-mesh[opensearch]'``, imported on first
use) with ``AWSV4SignerAuth`` for SigV4; bodies are built in ``opensearch_dsl``. The index
(and the hybrid search pipeline) are created on first write when missing; on AWS the CDK
app creates them at deploy time. Serverless specifics: no ``_refresh``; delete by source is
a search for the source's ids then a ``_bulk`` delete (``_delete_by_query`` is not offered
there); vector collections assign document ids themselves, so ``document_ids`` defaults
to false for ``service: aoss`` (the chunk id travels in the ``chunk_id`` field).
"""

from __future__ import annotations

import os
import threading
from typing import Any, Mapping, Sequence
from urllib.parse import quote, urlparse

from llm_mesh.kb.store import Chunk, Filter, Hit
from llm_mesh.kb.stores import opensearch_dsl as dsl
from llm_mesh.kb.stores.remote import JsonClient, VectorStoreError, credential_option, json_client, write_batches

BULK_BATCH = 200
ENDPOINT_ENV = "MESH_OPENSEARCH_ENDPOINT"  # set by the CDK app on the functions: the vector collection's endpoint
INSTALL_HINT = "the OpenSearch vector store needs opensearch-py: pip install 'llm-mesh[opensearch]'"


class OpenSearchPyJson:
    """JsonClient over an opensearch-py client (its transport signs, retries and pools)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def request(self, method: str, path: str, body: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        from opensearchpy.exceptions import ConnectionError as OsConnectionError
        from opensearchpy.exceptions import TransportError

        headers = {"content-type": "application/x-ndjson"} if isinstance(body, str) else None
        try:
            return self.client.transport.perform_request(method, path, params=dict(params or {}), body=body, headers=headers)
        except OsConnectionError as exc:
            raise VectorStoreError(f"OpenSearch unreachable: {type(exc).__name__}") from None
        except TransportError as exc:
            status = exc.status_code if isinstance(exc.status_code, int) else None
            raise VectorStoreError(f"OpenSearch answered {status} to {method} {path}: {exc.error}", upstream_status=status) from None


def opensearch_py_client(options: Mapping[str, Any]) -> Any:
    try:
        from opensearchpy import AWSV4SignerAuth, OpenSearch, RequestsHttpConnection
    except ImportError:
        raise RuntimeError(INSTALL_HINT) from None
    endpoint = str(options.get("endpoint") or "")
    if not endpoint:
        raise ValueError("opensearch store: options.endpoint is required")
    url = urlparse(endpoint if "://" in endpoint else f"https://{endpoint}")
    secure = url.scheme == "https"
    service = options.get("service")
    auth: Any = None
    if service in ("aoss", "es"):
        import boto3

        session = boto3.Session()
        region = options.get("region") or session.region_name
        if not region:
            raise ValueError("opensearch store: options.region is required for SigV4 (no default region)")
        auth = AWSV4SignerAuth(session.get_credentials(), region, service)
    elif options.get("username") or options.get("username_env"):
        auth = (credential_option(options, "username", "opensearch username"),
                credential_option(options, "password", "opensearch password"))
    return OpenSearch(
        hosts=[{"host": url.hostname, "port": url.port or (443 if secure else 80)}],
        http_auth=auth, use_ssl=secure, verify_certs=secure, connection_class=RequestsHttpConnection,
        timeout=float(options.get("timeout", 10)), max_retries=2, retry_on_timeout=True, pool_maxsize=16,
    )


class OpenSearchVectorStore:
    def __init__(self, options: Mapping[str, Any], transport: Any = None, default_index: str = "mesh-kb") -> None:
        self.options = dict(options)
        if not self.options.get("endpoint") and os.environ.get(ENDPOINT_ENV):
            # On AWS the CDK app passes the collection it created; Serverless signs as "aoss".
            self.options["endpoint"] = os.environ[ENDPOINT_ENV]
            self.options.setdefault("service", "aoss")
        self.index = str(self.options.get("index") or default_index)
        self.service = self.options.get("service")
        self.engine = str(self.options.get("engine", "faiss"))
        self.space_type = str(self.options.get("space_type", "cosinesimil"))
        self.hybrid = bool(self.options.get("hybrid", False))
        self.vector_weight = float(self.options.get("vector_weight", 0.7))
        if not 0.0 <= self.vector_weight <= 1.0:
            raise ValueError("opensearch store: vector_weight must be within [0, 1]")
        self.pipeline = str(self.options.get("pipeline") or f"{self.index}-hybrid")
        self.document_ids = bool(self.options.get("document_ids", self.service != "aoss"))
        self.dimensions: int | None = self.options.get("dimensions")
        self._transport = transport
        self._client: JsonClient | None = None
        self._ready = False
        self._pipeline_ready = False
        self._lock = threading.Lock()

    # ------------------------------------------------------------ plumbing
    @property
    def client(self) -> JsonClient:
        if self._client is None:
            if self._transport is not None:
                self._client = json_client(str(self.options.get("endpoint") or "http://opensearch.invalid"), {},
                                           self._transport, "OpenSearch")
            else:
                self._client = OpenSearchPyJson(opensearch_py_client(self.options))
        return self._client

    def _path(self, suffix: str = "") -> str:
        return f"/{quote(self.index, safe='')}{suffix}"

    def ensure_index(self, dimensions: int) -> None:
        """Create the index (and the hybrid pipeline) unless they exist; once per process."""
        with self._lock:
            if not self._ready:
                try:
                    self.client.request("PUT", self._path(), dsl.index_body(
                        dimensions, engine=self.engine, space_type=self.space_type))
                except VectorStoreError as exc:
                    if exc.upstream_status != 400 or "already_exists" not in exc.message:
                        raise
                self._ready = True
            if self.hybrid and not self._pipeline_ready:
                self.ensure_pipeline()

    def ensure_pipeline(self) -> None:
        self.client.request("PUT", f"/_search/pipeline/{quote(self.pipeline, safe='')}", dsl.pipeline_body(self.vector_weight))
        self._pipeline_ready = True

    # ------------------------------------------------------------ writes
    def upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        parts = write_batches(self, chunks, vectors, BULK_BATCH)
        if parts:
            self.ensure_index(self.dimensions or len(vectors[0]))
        for batch_chunks, batch_vectors in parts:
            self._bulk(dsl.bulk_index_body(self.index, batch_chunks, batch_vectors, with_ids=self.document_ids))

    def _bulk(self, body: str) -> dict[str, Any]:
        response = self.client.request("POST", "/_bulk", body) or {}
        failed = dsl.bulk_errors(response)
        if failed:
            raise VectorStoreError(f"OpenSearch bulk request: {len(failed)} item(s) failed, first: {failed[0]}")
        return response

    def delete_source(self, source: str) -> int:
        try:
            found = self.client.request("POST", self._path("/_search"), dsl.source_ids_body(source)) or {}
        except VectorStoreError as exc:
            if exc.upstream_status == 404:  # no index yet: nothing to delete
                return 0
            raise
        ids = [h["_id"] for h in (found.get("hits") or {}).get("hits") or []]
        if ids:
            self._bulk(dsl.bulk_delete_body(self.index, ids))
        return len(ids)

    def flush(self) -> None:
        if self.service == "aoss" or not self._ready:
            return  # Serverless refreshes on its own schedule and offers no _refresh
        self.client.request("POST", self._path("/_refresh"))

    # ------------------------------------------------------------ reads
    def search(self, vector: Sequence[float], k: int, filter: Filter | None = None, text: str | None = None) -> list[Hit]:
        if k <= 0:
            return []
        hybrid = self.hybrid and bool(text and text.strip())
        if hybrid:
            if not self._pipeline_ready:
                self.ensure_pipeline()
            body = dsl.hybrid_body(text or "", vector, k, filter)
            params = {"search_pipeline": self.pipeline}
        else:
            body, params = dsl.knn_body(vector, k, filter), None
        try:
            response = self.client.request("POST", self._path("/_search"), body, params=params) or {}
        except VectorStoreError as exc:
            if exc.upstream_status == 404:
                return []
            raise
        return dsl.parse_hits(response, engine=self.engine, hybrid=hybrid)[:k]

    def count(self) -> int:
        try:
            response = self.client.request("GET", self._path("/_count")) or {}
        except VectorStoreError as exc:
            if exc.upstream_status == 404:
                return 0
            raise
        return int(response.get("count", 0))
