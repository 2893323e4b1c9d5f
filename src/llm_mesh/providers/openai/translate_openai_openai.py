"""OpenAI -> OpenAI-compatible: the canonical request is already the wire format.

The only work is serialising without unset fields and reading responses back into
the canonical models, tolerating what compatible servers (vLLM, TGI, Ollama) add.
"""

from __future__ import annotations

from typing import Any

from llm_mesh.wire.openai_chat import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest, EmbeddingsResponse

# Fields that are the mesh's own business and never go upstream.
_MESH_ONLY = {"metadata"}


def chat_request_body(request: ChatCompletionRequest, *, stream: bool) -> dict[str, Any]:
    body = request.model_dump(exclude_none=True, by_alias=True, exclude=_MESH_ONLY)
    if stream:
        body["stream"] = True
        # Usage is always requested so the mesh can meter streams; the client only
        # sees the usage chunk when it asked for it.
        body["stream_options"] = {"include_usage": True}
    else:
        body.pop("stream", None)
        body.pop("stream_options", None)
    return body


def chat_response(data: Any) -> ChatCompletion:
    return ChatCompletion.model_validate(data)


def chat_chunk(data: Any) -> ChatCompletionChunk:
    return ChatCompletionChunk.model_validate(data)


def embeddings_request_body(request: EmbeddingsRequest, *, send_dimensions: bool) -> dict[str, Any]:
    body = request.model_dump(exclude_none=True)
    body["encoding_format"] = "float"  # the mesh re-encodes for the client
    if not send_dimensions:
        body.pop("dimensions", None)
    return body


def embeddings_response(data: Any) -> EmbeddingsResponse:
    return EmbeddingsResponse.model_validate(data)
