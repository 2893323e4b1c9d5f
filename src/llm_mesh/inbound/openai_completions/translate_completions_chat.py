"""Legacy text completions (``POST /v1/completions``) <-> canonical chat. Pure functions, no I/O.

Request: each prompt becomes one canonical chat request whose single user message is
the prompt text (a list of prompts gives one canonical request per prompt, answered in
order, choice ``index = prompt_position * n + j`` as OpenAI numbers them). ``max_tokens``
defaults to 16, as the Completions API documents. ``temperature``, ``top_p``, ``n``,
``stop``, ``presence_penalty``, ``frequency_penalty``, ``seed``, ``user``, ``logit_bias``
and ``stream_options`` carry over; ``echo: true`` prefixes the prompt to the text.

Not translatable, refused with a 400 naming the parameter: token-array prompts (the
canonical request holds text), ``suffix`` (insertion), ``logprobs`` > 0 and
``best_of`` other than ``n`` (server-side candidates the chat API does not offer).

Response: ``text_completion`` objects with ``choices[{text, index, logprobs: null,
finish_reason}]`` and usage; a tool-call finish (impossible without tools) reads ``stop``.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from llm_mesh.errors import InvalidRequest
from llm_mesh.wire.openai_chat import ChatCompletion, ChatCompletionChunk, Usage

DEFAULT_MAX_TOKENS = 16  # the Completions API's documented default
_PASSED_THROUGH = ("temperature", "top_p", "n", "stop", "presence_penalty", "frequency_penalty", "seed", "user",
                   "logit_bias")
_FINISH = {"stop": "stop", "length": "length", "content_filter": "content_filter",
           "tool_calls": "stop", "function_call": "stop", None: None}


class CompletionsRequest(BaseModel):
    """The fields the translator reads; everything else is validated by the canonical request."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, max_length=256)
    prompt: str | list[str] | list[int] | list[list[int]] = "<|endoftext|>"
    max_tokens: int | None = Field(default=DEFAULT_MAX_TOKENS, ge=1, le=10_000_000)
    n: int | None = Field(default=None, ge=1, le=128)
    stream: bool | None = None
    stream_options: dict[str, Any] | None = None
    echo: bool | None = None
    suffix: str | None = None
    logprobs: int | None = Field(default=None, ge=0, le=5)
    best_of: int | None = Field(default=None, ge=1, le=20)

    @field_validator("prompt")
    @classmethod
    def _text_prompts(cls, value: Any) -> Any:
        if isinstance(value, list):
            if not value:
                raise ValueError("prompt must not be an empty list")
            if not all(isinstance(item, str) for item in value):
                raise ValueError("token-array prompts are not supported through the mesh; send the prompt as text")
        return value

    @property
    def prompts(self) -> list[str]:
        return [self.prompt] if isinstance(self.prompt, str) else list(self.prompt)  # type: ignore[arg-type]


def parse_completions_request(body: Any) -> CompletionsRequest:
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    try:
        request = CompletionsRequest.model_validate(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        param = ".".join(str(part) for part in first["loc"] if not str(part).startswith(("list[", "str")))
        raise InvalidRequest(f"{param}: {first['msg'].removeprefix('Value error, ')}", param=param or None) from None
    if request.suffix:
        raise InvalidRequest("suffix (insertion) is not supported through the mesh", param="suffix")
    if request.logprobs:
        raise InvalidRequest("logprobs is not supported on /v1/completions through the mesh", param="logprobs")
    if request.best_of is not None and request.best_of != (request.n or 1):
        raise InvalidRequest("best_of other than n is not supported through the mesh", param="best_of")
    return request


def to_chat_body(request: CompletionsRequest, prompt: str) -> dict[str, Any]:
    """The canonical chat request body for one prompt (validated by the caller)."""
    body: dict[str, Any] = {"model": request.model, "messages": [{"role": "user", "content": prompt}]}
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    extra = request.model_extra or {}
    for name in _PASSED_THROUGH:
        value = getattr(request, name, None) if name in CompletionsRequest.model_fields else extra.get(name)
        if value is not None:
            body[name] = value
    if request.stream:
        body["stream"] = True
        if request.stream_options is not None:
            body["stream_options"] = request.stream_options
    return body


def new_completion_id() -> str:
    return f"cmpl-{uuid.uuid4().hex}"


def usage_body(usage: Usage | None) -> dict[str, int] | None:
    if usage is None:
        return None
    return {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens or usage.prompt_tokens + usage.completion_tokens}


def add_usage(total: Usage | None, usage: Usage | None) -> Usage | None:
    if usage is None:
        return total
    if total is None:
        return Usage(prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
                     total_tokens=usage.total_tokens)
    return Usage(prompt_tokens=total.prompt_tokens + usage.prompt_tokens,
                 completion_tokens=total.completion_tokens + usage.completion_tokens,
                 total_tokens=total.total_tokens + usage.total_tokens)


def choice_body(text: str, index: int, finish: str | None) -> dict[str, Any]:
    return {"text": text, "index": index, "logprobs": None, "finish_reason": _FINISH.get(finish, "stop")}


def completion_choices(request: CompletionsRequest, position: int, prompt: str, completion: ChatCompletion) -> list[dict[str, Any]]:
    """The answer of one prompt as text_completion choices, numbered after earlier prompts'."""
    per_prompt = request.n or 1
    prefix = prompt if request.echo else ""
    return [
        choice_body(prefix + (choice.message.content or ""), position * per_prompt + choice.index, choice.finish_reason)
        for choice in sorted(completion.choices, key=lambda c: c.index)
    ]


def completion_body(completion_id: str, created: int, model: str, choices: list[dict[str, Any]],
                    usage: Usage | None, system_fingerprint: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": completion_id, "object": "text_completion", "created": created, "model": model,
                            "choices": choices}
    if system_fingerprint is not None:
        body["system_fingerprint"] = system_fingerprint
    if usage is not None:
        body["usage"] = usage_body(usage)
    return body


def chunk_bodies(request: CompletionsRequest, position: int, chunk: ChatCompletionChunk,
                 completion_id: str) -> list[dict[str, Any]]:
    """One canonical chunk as text_completion chunks (its usage-only chunk is the caller's)."""
    per_prompt = request.n or 1
    out = []
    for choice in chunk.choices:
        text = choice.delta.content or ""
        if not text and choice.finish_reason is None:
            continue
        body = {"id": completion_id, "object": "text_completion", "created": chunk.created, "model": chunk.model,
                "choices": [choice_body(text, position * per_prompt + choice.index, choice.finish_reason)]}
        if choice.finish_reason is None:
            body["choices"][0]["finish_reason"] = None
        out.append(body)
    return out
