"""Inbound Anthropic Messages API (``POST /v1/messages``), as translators for the HTTP layer.

The HTTP endpoint (mounted by the app) uses exactly these four functions:

- ``parse_messages_request(body)`` -> (Anthropic request model, canonical request);
  raises ``InvalidRequest`` with a clear message and ``param`` path on bad input.
- ``to_anthropic_message(completion, requested_model)`` -> Anthropic ``Message`` body.
- ``stream_anthropic_events(chunks, requested_model)`` -> SSE bytes
  (``event: X\\ndata: {...}\\n\\n``) in Anthropic's order. Error contract: if the chunk
  iterator raises (or ends without a finish reason) after events were sent, this
  generator itself yields an ``event: error`` frame in Anthropic's shape and then
  re-raises the MeshError, so the caller can record the failure; the caller must not
  write a second error frame. An error before the first chunk propagates with no
  bytes sent, so the caller can still answer with a plain HTTP error.
- ``anthropic_error_body(error)`` -> ``{"type": "error", "error": {"type", "message"}}``
  for non-streamed errors (use ``error.status`` as the HTTP status).
"""

from __future__ import annotations

from typing import Any, AsyncIterator

from pydantic import ValidationError

from llm_mesh.errors import InternalError, InvalidRequest, MeshError
from llm_mesh.inbound.anthropic.translate_anthropic_openai import (
    AnthropicStreamEncoder,
    completion_to_message,
    error_body,
    request_to_canonical,
    sse_event,
)
from llm_mesh.inbound.anthropic.types import AnthropicMessagesRequest
from llm_mesh.wire.openai_chat import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest

__all__ = [
    "AnthropicMessagesRequest",
    "anthropic_error_body",
    "anthropic_error_event",
    "parse_messages_request",
    "stream_anthropic_events",
    "to_anthropic_message",
]


def _invalid(exc: ValidationError, prefix: str = "") -> InvalidRequest:
    first = exc.errors()[0]
    location = ".".join(str(part) for part in first["loc"])
    count = len(exc.errors())
    more = f" (and {count - 1} more problem{'s' if count > 2 else ''})" if count > 1 else ""
    where = f"{prefix}{location}"
    return InvalidRequest(f"{where}: {first['msg']}{more}" if where else f"{first['msg']}{more}", param=location or None)


def parse_messages_request(body: Any) -> tuple[AnthropicMessagesRequest, ChatCompletionRequest]:
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    try:
        request = AnthropicMessagesRequest.model_validate(body)
    except ValidationError as exc:
        raise _invalid(exc) from None
    canonical_body = request_to_canonical(request)
    try:
        canonical = ChatCompletionRequest.model_validate(canonical_body)
    except ValidationError as exc:
        # Paths here are canonical (OpenAI) ones; say so rather than pretend.
        raise _invalid(exc, prefix="after translation to the canonical request, ") from None
    return request, canonical


def to_anthropic_message(completion: ChatCompletion, requested_model: str) -> dict[str, Any]:
    return completion_to_message(completion, requested_model)


def anthropic_error_body(error: MeshError) -> dict[str, Any]:
    return error_body(error)


def anthropic_error_event(error: MeshError) -> bytes:
    return sse_event("error", error_body(error))


async def stream_anthropic_events(
    chunks: AsyncIterator[ChatCompletionChunk], requested_model: str, input_tokens: int = 0
) -> AsyncIterator[bytes]:
    """``input_tokens``: the mesh's prompt count, for ``message_start`` when the upstream gave none."""
    encoder = AnthropicStreamEncoder(requested_model, input_tokens)
    try:
        async for chunk in chunks:
            for frame in encoder.feed(chunk):
                yield frame
        for frame in encoder.finish():
            yield frame
    except MeshError as error:
        if not encoder.started:
            raise
        yield anthropic_error_event(error)
        raise
    except Exception as exc:
        if not encoder.started:
            raise
        yield anthropic_error_event(InternalError("the stream failed inside the mesh"))
        raise InternalError("the stream failed inside the mesh") from exc
