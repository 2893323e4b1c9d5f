"""The ``echo`` provider: a deterministic test double, not a model.

It answers with exactly the JSON body the mesh would have sent to an
OpenAI-compatible upstream after every transformation (routing, redaction,
prompt rendering...), with token usage counted by tiktoken. Demos and tests use
it to see what leaves the mesh (a stream's body includes ``stream`` and
``stream_options`` as an upstream would receive them). When the request forces a
tool call (``tool_choice`` "required" or a named function) it calls that tool with
the last user text as ``{"echo": ...}``. With ``options: {call_tools: auto}`` it also
calls the first offered tool after each user message, filling the tool's required
string arguments with the user's text, and answers a tool result with that result:
an agent with tools runs end to end offline.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
import time
import uuid
from typing import Any, AsyncIterator

from llm_mesh.providers.base import Capabilities, SecretResolver
from llm_mesh.providers.echo.options import EchoOptions
from llm_mesh.providers.openai.translate_openai_openai import chat_request_body
from llm_mesh.tokens import count_messages, count_text
from llm_mesh.wire.openai_chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    Delta,
    FunctionCall,
    ResponseMessage,
    ToolCall,
    ToolCallDelta,
    ToolCallDeltaFunction,
    Usage,
    message_text,
)
from llm_mesh.wire.openai_embeddings import Embedding, EmbeddingsRequest, EmbeddingsResponse, EmbeddingsUsage

DEFAULT_DIMENSIONS = 64
_STREAM_PIECE = 24  # characters per streamed content chunk


class EchoProvider:
    kind = "echo"

    def __init__(self, name: str, config: Any = None, secrets: SecretResolver | None = None) -> None:
        self.name = name
        options = getattr(config, "options", None) or {}
        self._auto_tools = EchoOptions.model_validate(options).call_tools == "auto"

    def capabilities(self, model: str) -> Capabilities:
        return Capabilities(embeddings=True, context_window=1_000_000)

    def _answer(self, request: ChatCompletionRequest, stream: bool = False) -> tuple[str | None, list[ToolCall] | None, str, Usage]:
        body = chat_request_body(request, stream=stream)
        tool, arguments = _forced_tool(request), None
        if tool is None and self._auto_tools:
            tool, arguments = _auto_tool(request)
        if tool is not None:
            last_user = next((m for m in reversed(request.messages) if m.role == "user"), None)
            arguments = arguments or json.dumps({"echo": message_text(last_user.content) if last_user else ""})
            call_id = "call_" + hashlib.sha256(arguments.encode()).hexdigest()[:24]
            calls = [ToolCall(id=call_id, function=FunctionCall(name=tool, arguments=arguments))]
            completion_tokens = count_text(tool) + count_text(arguments)
            content, finish = None, "tool_calls"
        else:
            content = json.dumps(body, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
            if self._auto_tools and request.messages and request.messages[-1].role == "tool":
                content = "Tool result: " + message_text(request.messages[-1].content)
            calls, finish = None, "stop"
            limit = request.output_token_limit
            completion_tokens = count_text(content)
            if limit is not None and completion_tokens > limit:
                content = _truncate_to_tokens(content, limit)
                completion_tokens, finish = limit, "length"
        prompt_tokens = count_messages(request.messages)
        usage = Usage(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
        )
        return content, calls, finish, usage

    async def chat(self, request: ChatCompletionRequest) -> ChatCompletion:
        content, calls, finish, usage = self._answer(request)
        choices = [
            Choice(index=i, message=ResponseMessage(content=content, tool_calls=calls), finish_reason=finish)
            for i in range(request.n or 1)
        ]
        return ChatCompletion(
            id=f"chatcmpl-echo-{uuid.uuid4().hex}", created=int(time.time()), model=request.model,
            choices=choices, usage=usage,
        )

    async def chat_stream(self, request: ChatCompletionRequest) -> AsyncIterator[ChatCompletionChunk]:
        content, calls, finish, usage = self._answer(request, stream=True)
        ident, created = f"chatcmpl-echo-{uuid.uuid4().hex}", int(time.time())

        def chunk(choices: list[ChunkChoice], usage: Usage | None = None) -> ChatCompletionChunk:
            return ChatCompletionChunk(id=ident, created=created, model=request.model, choices=choices, usage=usage)

        count = request.n or 1
        yield chunk([ChunkChoice(index=i, delta=Delta(role="assistant", content="")) for i in range(count)])
        if calls:
            for i in range(count):
                call = calls[0]
                yield chunk([ChunkChoice(index=i, delta=Delta(tool_calls=[ToolCallDelta(
                    index=0, id=call.id, type="function",
                    function=ToolCallDeltaFunction(name=call.function.name, arguments=call.function.arguments),
                )]))])
        else:
            text = content or ""
            for start in range(0, len(text), _STREAM_PIECE):
                piece = text[start : start + _STREAM_PIECE]
                yield chunk([ChunkChoice(index=i, delta=Delta(content=piece)) for i in range(count)])
        yield chunk([ChunkChoice(index=i, delta=Delta(), finish_reason=finish) for i in range(count)])
        yield chunk([], usage=usage)

    async def embed(self, request: EmbeddingsRequest) -> EmbeddingsResponse:
        texts = request.texts() or [json.dumps(request.input)]
        dimensions = request.dimensions or DEFAULT_DIMENSIONS
        data = [Embedding(index=i, embedding=_vector(text, dimensions)) for i, text in enumerate(texts)]
        tokens = sum(count_text(text) for text in texts)
        return EmbeddingsResponse(data=data, model=request.model, usage=EmbeddingsUsage(prompt_tokens=tokens, total_tokens=tokens))

    async def aclose(self) -> None:
        return None


def _forced_tool(request: ChatCompletionRequest) -> str | None:
    if not request.tools:
        return None
    choice = request.tool_choice
    if choice == "required":
        return request.tools[0].function.name
    if choice is not None and not isinstance(choice, str):
        return choice.function.name
    return None


def _auto_tool(request: ChatCompletionRequest) -> tuple[str | None, str | None]:
    """The first tool, called with the user's text in every required string argument."""
    if not request.tools or request.tool_choice == "none" or not request.messages or request.messages[-1].role != "user":
        return None, None
    function = request.tools[0].function
    text = message_text(request.messages[-1].content)
    schema = function.parameters or {}
    properties = schema.get("properties") or {}
    required = [name for name in schema.get("required") or () if (properties.get(name) or {}).get("type", "string") == "string"]
    return function.name, json.dumps({name: text for name in required} or {"echo": text})


def _truncate_to_tokens(text: str, limit: int) -> str:
    # Binary search on characters keeps this exact without reaching into the encoder.
    low, high = 0, len(text)
    while low < high:
        mid = (low + high + 1) // 2
        if count_text(text[:mid]) <= limit:
            low = mid
        else:
            high = mid - 1
    return text[:low]


def _vector(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector derived from the text's hash."""
    values: list[float] = []
    counter = 0
    while len(values) < dimensions:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        values.extend(v / 2**31 for v in struct.unpack("<8i", digest))
        counter += 1
    values = values[:dimensions]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]
