"""Construction shared by the HTTP providers: the pooled client with its auth header.

Every HTTP provider builds one client from the same config fields (``base_url`` or
the provider's default, timeouts, ``max_connections``, static ``headers``) and puts
the resolved ``api_key`` in the header its upstream reads: ``Authorization: Bearer``
(OpenAI, Cohere and the OpenAI-like upstreams) or the key as is in a header of its
own (``x-api-key``, ``api-key``, ``x-goog-api-key``).
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

import httpx

from llm_mesh.errors import InvalidRequest, UpstreamError
from llm_mesh.providers.http_base import build_client, stream_cut

T = TypeVar("T")

BEARER = "Authorization"


def api_key_client(
    name: str,
    config: Any,
    secrets: Any,
    default_base_url: str | None = None,
    *,
    key_header: str | None = BEARER,
    extra_headers: dict[str, str] | None = None,
) -> httpx.AsyncClient:
    """The provider's pooled client.

    ``api_key`` (when configured) goes in ``key_header``: as ``Bearer <key>`` for
    ``Authorization``, as is for any other header; ``key_header=None`` sends no key
    (auth added per request instead). ``extra_headers`` override the config's headers.
    """
    base_url = config.base_url or default_base_url
    if not base_url:
        raise InvalidRequest(f"provider {name} needs base_url")
    headers = {**config.headers, **(extra_headers or {})}
    if key_header is not None and config.api_key is not None:
        key = secrets.resolve(config.api_key)
        headers[key_header] = f"Bearer {key}" if key_header == BEARER else key
    return build_client(base_url, config.timeouts, config.max_connections, headers)


def close_stream(provider: str, close: Callable[[], list[T]]) -> list[T]:
    """A stream translator's last chunks; its own cut-stream error becomes this provider's ``stream_cut``."""
    try:
        return close()
    except UpstreamError:
        raise stream_cut(provider) from None
