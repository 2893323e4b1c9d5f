"""OpenAI -> Databricks Model Serving: only what differs from the openai translator.

- the endpoint name comes from the route model (``endpoints`` maps names);
- ``/invocations`` bodies carry no ``model`` (the endpoint is in the path);
- ``stream_options`` is not sent: usage arrives as running totals on every chunk,
  which the shared ``StreamNormalizer`` reduces to one final usage chunk.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from llm_mesh.providers.openai import translate_openai_openai as openai_wire
from llm_mesh.wire.openai_chat import ChatCompletionRequest
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest


def endpoint_for(model: str, endpoints: dict[str, str]) -> str:
    return endpoints.get(model, model)


def path(api: str, endpoint: str, operation: str) -> str:
    if api == "openai":
        return f"/serving-endpoints/{operation}"
    return f"/serving-endpoints/{quote(endpoint, safe='')}/invocations"


def chat_request_body(request: ChatCompletionRequest, api: str, endpoint: str, *, stream: bool) -> dict[str, Any]:
    body = openai_wire.chat_request_body(request, stream=stream)
    body.pop("stream_options", None)
    return _addressed(body, api, endpoint)


def embeddings_request_body(request: EmbeddingsRequest, api: str, endpoint: str) -> dict[str, Any]:
    body = openai_wire.embeddings_request_body(request, send_dimensions=False)
    body.pop("encoding_format", None)
    return _addressed(body, api, endpoint)


def _addressed(body: dict[str, Any], api: str, endpoint: str) -> dict[str, Any]:
    """The OpenAI API names the endpoint in ``model``; /invocations has it in the path."""
    if api == "openai":
        body["model"] = endpoint
    else:
        body.pop("model", None)
    return body
