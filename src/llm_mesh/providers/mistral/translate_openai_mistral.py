"""OpenAI -> Mistral: only what differs from the openai translator.

- ``seed`` is ``random_seed``; ``max_completion_tokens`` is ``max_tokens``;
- ``tool_choice: "required"`` is ``"any"``;
- ``developer`` messages are ``system``; message ``name`` is only accepted on tool messages;
- fields outside Mistral's closed schema (``user``, ``logprobs``, ``stream_options``...) are dropped;
- ``safe_prompt`` comes from the provider options;
- streams carry usage on the finishing chunk (normalised by ``StreamNormalizer``);
  the finish reason ``model_length`` is ``length``, ``error`` is an upstream failure.
"""

from __future__ import annotations

from typing import Any

from llm_mesh.providers.common.messages import pick, system_roles
from llm_mesh.providers.mistral.types import CHAT_FIELDS, MESSAGE_FIELDS
from llm_mesh.providers.openai import translate_openai_openai as openai_wire
from llm_mesh.wire.openai_chat import ChatCompletionRequest
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest


def chat_request_body(request: ChatCompletionRequest, *, stream: bool, safe_prompt: bool) -> dict[str, Any]:
    body = openai_wire.chat_request_body(request, stream=stream)
    if "seed" in body:
        body["random_seed"] = body.pop("seed")
    if request.output_token_limit is not None:
        body["max_tokens"] = request.output_token_limit
    if body.get("tool_choice") == "required":
        body["tool_choice"] = "any"
    body["messages"] = [
        pick(message, MESSAGE_FIELDS.get(message["role"], frozenset(message)))
        for message in system_roles(body["messages"])
    ]
    if safe_prompt:
        body["safe_prompt"] = True
    return pick(body, CHAT_FIELDS)


def embeddings_request_body(request: EmbeddingsRequest) -> dict[str, Any]:
    body: dict[str, Any] = {"model": request.model, "input": request.input}
    if request.dimensions is not None:
        body["output_dimension"] = request.dimensions
    return body
