"""Mistral chat wire fields (from Mistral's ChatCompletionRequest schema).

The request schema is closed: unknown fields are rejected with 422
``extra_forbidden``, so only these are sent.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

CHAT_FIELDS = frozenset(
    {
        "model",
        "messages",
        "temperature",
        "top_p",
        "max_tokens",
        "stream",
        "stop",
        "random_seed",  # OpenAI's seed
        "response_format",
        "tools",
        "tool_choice",  # "auto" | "none" | "any" (OpenAI's "required") | {"type": "function", ...}
        "presence_penalty",
        "frequency_penalty",
        "n",
        "parallel_tool_calls",
        "safe_prompt",
        "prediction",
    }
)

MESSAGE_FIELDS = {
    "system": frozenset({"role", "content"}),
    "user": frozenset({"role", "content"}),
    "assistant": frozenset({"role", "content", "tool_calls", "prefix"}),
    "tool": frozenset({"role", "content", "tool_call_id", "name"}),
}

MistralToolChoice = Literal["auto", "none", "any", "required"]


class MistralEmbeddingsRequest(TypedDict, total=False):
    model: str
    input: str | list[str]
    output_dimension: int
    output_dtype: Literal["float", "int8", "uint8", "binary", "ubinary"]


class MistralValidationError(TypedDict, total=False):
    object: Literal["error"]
    message: Any  # a string, or {"detail": [{"type", "loc", "msg", "input"}]} on 422
    type: str
    param: str | None
    code: str | None
