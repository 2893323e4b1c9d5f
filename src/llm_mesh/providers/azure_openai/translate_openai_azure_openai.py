"""OpenAI -> Azure OpenAI: only what differs from the openai translator.

Bodies are OpenAI's (``translate_openai_openai``) with ``model`` set to the
deployment; what differs is where they go: per-deployment paths with an
``api-version`` query, or the versionless v1 API. Responses carry content-filter
annotations that the canonical models keep as extra fields, and stream chunks are
normalised by the shared ``StreamNormalizer``.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote, urlencode

from llm_mesh.providers.openai import translate_openai_openai as openai_wire
from llm_mesh.wire.openai_chat import ChatCompletionRequest
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest

Operation = Literal["chat/completions", "embeddings"]


def deployment_for(model: str, deployments: dict[str, str]) -> str:
    return deployments.get(model, model)


def operation_path(api: str, api_version: str, deployment: str, operation: Operation) -> str:
    if api == "v1":
        return f"/openai/v1/{operation}"
    query = urlencode({"api-version": api_version})
    return f"/openai/deployments/{quote(deployment, safe='')}/{operation}?{query}"


def chat_request_body(request: ChatCompletionRequest, deployment: str, *, stream: bool) -> dict[str, Any]:
    body = openai_wire.chat_request_body(request, stream=stream)
    body["model"] = deployment
    return body


def embeddings_request_body(request: EmbeddingsRequest, deployment: str) -> dict[str, Any]:
    body = openai_wire.embeddings_request_body(request, send_dimensions=True)
    body["model"] = deployment
    return body
