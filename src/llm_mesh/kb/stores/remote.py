"""What the remote vector-store adapters share: a small JSON-over-HTTP client,
credential references, and metadata coercion.

Chroma and Pinecone are spoken to over their documented REST APIs with httpx
(a core dependency: nothing extra to install); OpenSearch goes through
opensearch-py (the ``opensearch`` extra) unless a test hands in a transport.
``transport`` is either an ``httpx.BaseTransport`` (tests use
``httpx.MockTransport``) or any object with ``request(method, path, body, params)``.
Errors never carry the credential or the request body.
"""

from __future__ import annotations

import json
import os
from typing import Any, Mapping, Protocol, Sequence

from llm_mesh.errors import UpstreamError, UpstreamUnavailable

TIMEOUT_S = 10.0


class VectorStoreError(UpstreamError):
    code = "vector_store_error"

    def __init__(self, message: str, *, upstream_status: int | None = None) -> None:
        super().__init__(message)
        self.upstream_status = upstream_status


class JsonClient(Protocol):
    def request(self, method: str, path: str, body: Any = None, params: Mapping[str, Any] | None = None) -> Any: ...


class HttpxJson:
    """JSON requests against one base URL; raises VectorStoreError on HTTP errors."""

    def __init__(self, base_url: str, headers: Mapping[str, str] | None = None, transport: Any = None,
                 timeout: float = TIMEOUT_S, label: str = "vector store") -> None:
        import httpx

        self.label = label
        self._client = httpx.Client(base_url=base_url.rstrip("/"), headers=dict(headers or {}), transport=transport,
                                    timeout=timeout)

    def request(self, method: str, path: str, body: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        import httpx

        content = None
        headers = {}
        if body is not None:
            ndjson = isinstance(body, (bytes, str))  # _bulk bodies
            content = body if ndjson else json.dumps(body, separators=(",", ":"))
            headers["content-type"] = "application/x-ndjson" if ndjson else "application/json"
        try:
            response = self._client.request(method, path, content=content, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(f"{self.label} unreachable: {type(exc).__name__}") from None
        if response.status_code >= 400:
            raise VectorStoreError(f"{self.label} answered {response.status_code} to {method} {path.split('?')[0]}: "
                                   f"{_short(response.text)}", upstream_status=response.status_code)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return response.text

    def close(self) -> None:
        self._client.close()


def _short(text: str, limit: int = 300) -> str:
    return " ".join(text.split())[:limit]


def json_client(base_url: str, headers: Mapping[str, str], transport: Any, label: str) -> JsonClient:
    if transport is not None and hasattr(transport, "request") and not _is_httpx_transport(transport):
        return transport
    return HttpxJson(base_url, headers, transport=transport, label=label)


def _is_httpx_transport(value: Any) -> bool:
    try:
        import httpx
    except ImportError:  # pragma: no cover - httpx is a core dependency
        return False
    return isinstance(value, httpx.BaseTransport)


def resolve_credential(value: Any, what: str) -> str | None:
    """A credential given by reference: ``{env: VAR}`` or ``{secret: NAME, field: KEY}`` (Secrets Manager),
    or the legacy ``*_env`` option holding a variable name. Inline strings are refused."""
    if value is None:
        return None
    if isinstance(value, str):
        raise ValueError(f"{what}: inline credentials are not allowed; use {{env: VAR}} or {{secret: NAME}}")
    if not isinstance(value, Mapping) or ("env" in value) == ("secret" in value):
        raise ValueError(f"{what}: give exactly one of env or secret")
    if "env" in value:
        found = os.environ.get(str(value["env"]))
        if not found:
            raise UpstreamUnavailable(f"{what}: environment variable {value['env']} is not set")
        return found
    from llm_mesh.aws.secrets import SecretsManagerResolver
    from llm_mesh.config.base import SecretRef

    return SecretsManagerResolver().resolve(SecretRef(secret=value["secret"], field=value.get("field")))


def credential_option(options: Mapping[str, Any], key: str, what: str) -> str | None:
    """``options[key]`` as a reference, else ``options[key + '_env']`` naming an environment variable."""
    if options.get(key) is not None:
        return resolve_credential(options[key], what)
    env = options.get(f"{key}_env")
    return resolve_credential({"env": env}, what) if env else None


def scalar_metadata(metadata: Mapping[str, Any], allow_string_lists: bool = False) -> dict[str, Any]:
    """Metadata stores that accept only str/number/bool values (Chroma, Pinecone): None dropped,
    string lists kept where allowed, anything else as JSON text."""
    out: dict[str, Any] = {}
    for key, value in metadata.items():
        if value is None:
            continue
        if isinstance(value, (str, bool, int, float)):
            out[key] = value
        elif allow_string_lists and isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            out[key] = list(value)
        else:
            out[key] = json.dumps(value, ensure_ascii=False, default=str)
    return out


def batches(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def write_batches(store: Any, chunks: Sequence[Any], vectors: Sequence[Sequence[float]], size: int) -> list[tuple[list[Any], list[Any]]]:
    """Checks an upsert (one vector per chunk, the store's dimension, set on first write) and splits it
    into (chunks, vectors) batches of at most ``size``."""
    if len(chunks) != len(vectors):
        raise ValueError("one vector per chunk")
    if not chunks:
        return []
    dimensions = len(vectors[0])
    if store.dimensions is None:
        store.dimensions = dimensions
    elif dimensions != store.dimensions:
        raise ValueError(f"vectors have {dimensions} dimensions; this store holds {store.dimensions}")
    return [([c for c, _ in batch], [v for _, v in batch]) for batch in batches(list(zip(chunks, vectors)), size)]
