"""Chat completions serialised as OpenAI serialises them: absent optional keys are left
out, the keys OpenAI documents as always present stay present when null.

The canonical models hold every optional field as ``None``; dumping them with
``exclude_none`` alone would drop ``message.content`` on a tool-call answer,
``message.refusal``, ``choices[].logprobs``, a chunk's ``finish_reason`` while it is
still running and the ``usage: null`` of every chunk but the last when the client
asked for usage (https://platform.openai.com/docs/api-reference/chat/object and
/chat/streaming). These functions put exactly those keys back.
"""

from __future__ import annotations

import pydantic_core
from typing import Any

from llm_mesh.wire.openai_chat import ChatCompletion, ChatCompletionChunk

_MESSAGE_NULLS = ("content", "refusal")  # required, nullable in ChatCompletionResponseMessage


def _dumps(body: dict[str, Any]) -> bytes:
    return pydantic_core.to_json(body)


def completion_body(completion: ChatCompletion) -> dict[str, Any]:
    body = completion.model_dump(exclude_none=True)
    for choice in body.get("choices", ()):
        choice.setdefault("logprobs", None)
        choice.setdefault("finish_reason", None)
        message = choice.setdefault("message", {"role": "assistant"})
        for key in _MESSAGE_NULLS:
            message.setdefault(key, None)
    return body


def completion_json(completion: ChatCompletion) -> bytes:
    return _dumps(completion_body(completion))


def chunk_body(chunk: ChatCompletionChunk, include_usage: bool) -> dict[str, Any]:
    body = chunk.model_dump(exclude_none=True)
    for choice in body.get("choices", ()):
        choice.setdefault("logprobs", None)
        choice.setdefault("finish_reason", None)
    if include_usage:
        body.setdefault("usage", None)  # null on every chunk but the last, as documented
    return body


def chunk_json(chunk: ChatCompletionChunk, include_usage: bool) -> bytes:
    return _dumps(chunk_body(chunk, include_usage))
