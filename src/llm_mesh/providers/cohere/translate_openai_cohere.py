"""OpenAI chat completions <-> Cohere v2 chat. Pure functions, no I/O.

Cohere v2 is close to OpenAI's shape: system/user/assistant/tool messages, tools
as ``{"type": "function", "function": {...}}`` and tool calls with JSON-string
arguments. The differences handled here:

- sampling: ``top_p`` is ``p``, ``stop`` is ``stop_sequences``; Cohere's penalties
  range over [0, 1] (OpenAI's over [-2, 2]) and are clamped into it;
- ``tool_choice``: Cohere knows only ``REQUIRED`` and ``NONE``; a named function
  becomes ``REQUIRED`` with the tool list narrowed to that function;
- ``response_format``: ``json_schema`` becomes ``json_object`` with ``json_schema``;
- the model's ``tool_plan`` (its note on why it calls tools) is surfaced as the
  assistant's content when it calls tools without other text, and an assistant
  message with both content and tool calls is sent back with that content as
  ``tool_plan`` — so the plan survives the round trip;
- finish reasons COMPLETE/STOP_SEQUENCE/MAX_TOKENS/TOOL_CALL map to stop/length/
  tool_calls; ERROR and TIMEOUT are upstream failures; usage is the billed units
  (what Cohere invoices), with ``cached_tokens`` as cached prompt tokens.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from llm_mesh.providers.common.malformed import reads_upstream
from llm_mesh.errors import InvalidRequest, UpstreamError, UpstreamTimeout
from llm_mesh.providers.cohere import types as c
from llm_mesh.providers.common.embeddings import embedding_texts, embeddings_response
from llm_mesh.providers.common.messages import stop_list
from llm_mesh.providers.common.usage import make_usage
from llm_mesh.wire.openai_chat import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    Delta,
    FunctionCall,
    ResponseMessage,
    SystemMessage,
    ToolCall,
    ToolCallDelta,
    ToolCallDeltaFunction,
    ToolMessage,
    Usage,
    UserMessage,
    message_text,
)
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest, EmbeddingsResponse

_FINISH = {
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "MAX_TOKENS": "length",
    "TOOL_CALL": "tool_calls",
    "CONTENT_BLOCKED": "content_filter",
    "ERROR_TOXIC": "content_filter",
}


def finish_reason(reason: str | None, error: str | None = None) -> str:
    """Cohere finish_reason -> OpenAI's; ERROR/TIMEOUT raise (the generation failed)."""
    value = (reason or "").upper()
    if value in _FINISH:
        return _FINISH[value]
    if value == "TIMEOUT":
        raise UpstreamTimeout("provider timed out while generating")
    if value in ("ERROR", "ERROR_LIMIT"):
        detail = f": {error[:200]}" if error else ""
        raise UpstreamError(f"provider reported a generation error{detail}")
    return "stop"


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


# ---------------------------------------------------------------- request
def _user_content(message: UserMessage) -> Any:
    if isinstance(message.content, str):
        return message.content
    parts: list[Any] = []
    for part in message.content:
        if part.type == "text":
            parts.append({"type": "text", "text": part.text})  # type: ignore[union-attr]
        elif part.type == "image_url":
            image: dict[str, Any] = {"url": part.image_url.url}  # type: ignore[union-attr]
            if part.image_url.detail:  # type: ignore[union-attr]
                image["detail"] = part.image_url.detail  # type: ignore[union-attr]
            parts.append({"type": "image_url", "image_url": image})
        else:
            raise InvalidRequest(f"content part type {part.type!r} is not supported by Cohere")
    return parts


def _messages(request: ChatCompletionRequest) -> list[c.Message]:
    out: list[c.Message] = []
    for message in request.messages:
        if isinstance(message, SystemMessage):
            out.append({"role": "system", "content": message_text(message.content)})
        elif isinstance(message, UserMessage):
            out.append({"role": "user", "content": _user_content(message)})
        elif isinstance(message, AssistantMessage):
            text = message_text(message.content) if message.content is not None else ""
            assistant: c.AssistantMessage = {"role": "assistant"}
            if message.tool_calls:
                assistant["tool_calls"] = [
                    {"id": call.id, "type": "function",
                     "function": {"name": call.function.name, "arguments": call.function.arguments or "{}"}}
                    for call in message.tool_calls
                ]
                if text:
                    assistant["tool_plan"] = text
            else:
                assistant["content"] = text
            out.append(assistant)
        elif isinstance(message, ToolMessage):
            out.append({"role": "tool", "tool_call_id": message.tool_call_id, "content": message_text(message.content)})
    return out


def chat_request_body(
    request: ChatCompletionRequest, *, stream: bool, safety_mode: str | None = None
) -> c.ChatRequest:
    if request.n is not None and request.n > 1:
        raise InvalidRequest("Cohere returns one completion per request (n > 1 is not supported)")
    body: c.ChatRequest = {"model": request.model, "messages": _messages(request)}
    tools = list(request.tools or [])
    choice = request.tool_choice
    if tools and choice is not None and not isinstance(choice, str):
        tools = [t for t in tools if t.function.name == choice.function.name]
        if not tools:
            raise InvalidRequest(f"tool_choice names {choice.function.name!r}, which is not among the tools")
    if tools:
        body["tools"] = []
        for tool in tools:
            function: c.ToolFunction = {"name": tool.function.name}
            if tool.function.description:
                function["description"] = tool.function.description
            if tool.function.parameters is not None:
                function["parameters"] = tool.function.parameters
            body["tools"].append({"type": "function", "function": function})
        if any(t.function.strict for t in tools):
            body["strict_tools"] = True
        if choice == "required" or (choice is not None and not isinstance(choice, str)):
            body["tool_choice"] = "REQUIRED"
        elif choice == "none":
            body["tool_choice"] = "NONE"
    fmt = request.response_format
    if fmt is not None and fmt.type != "text":
        response_format: c.ResponseFormat = {"type": "json_object"}
        if fmt.type == "json_schema" and fmt.json_schema is not None and fmt.json_schema.schema_:
            response_format["json_schema"] = fmt.json_schema.schema_
        body["response_format"] = response_format
    if safety_mode:
        body["safety_mode"] = safety_mode  # type: ignore[typeddict-item]
    if request.output_token_limit is not None:
        body["max_tokens"] = request.output_token_limit
    if request.stop:
        body["stop_sequences"] = stop_list(request.stop)
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["p"] = min(0.99, max(0.01, request.top_p))  # Cohere's documented range
    if request.seed is not None:
        body["seed"] = request.seed
    if request.frequency_penalty is not None:
        body["frequency_penalty"] = _clamp(request.frequency_penalty)
    if request.presence_penalty is not None:
        body["presence_penalty"] = _clamp(request.presence_penalty)
    if request.logprobs:
        body["logprobs"] = True
    if stream:
        body["stream"] = True
    return body


# ---------------------------------------------------------------- response
def usage(data: dict[str, Any] | None) -> Usage | None:
    if not data:
        return None
    billed = data.get("billed_units") or {}
    tokens = data.get("tokens") or {}
    prompt = int(billed.get("input_tokens") if billed.get("input_tokens") is not None else tokens.get("input_tokens") or 0)
    completion = int(
        billed.get("output_tokens") if billed.get("output_tokens") is not None else tokens.get("output_tokens") or 0
    )
    cached = data.get("cached_tokens")
    return make_usage(prompt, completion, cached=int(cached) if cached is not None else None)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(
        item.get("text", "") for item in content or [] if isinstance(item, dict) and item.get("type") == "text"
    )


@reads_upstream("cohere")
def chat_response(data: Any, model: str) -> ChatCompletion:
    if not isinstance(data, dict) or not isinstance(data.get("message"), dict):
        raise UpstreamError("provider returned a malformed chat response")
    message = data["message"]
    reason = finish_reason(data.get("finish_reason"), data.get("error") if isinstance(data.get("error"), str) else None)
    calls = [
        ToolCall(id=call.get("id") or f"call_{uuid.uuid4().hex[:24]}",
                 function=FunctionCall(name=call["function"]["name"], arguments=call["function"].get("arguments") or "{}"))
        for call in message.get("tool_calls") or []
    ]
    text = _text(message.get("content"))
    if not text and calls and message.get("tool_plan"):
        text = message["tool_plan"]
    if calls and reason == "stop":
        reason = "tool_calls"
    return ChatCompletion(
        id=f"chatcmpl-{data.get('id') or uuid.uuid4().hex}",
        created=int(time.time()),
        model=model,
        choices=[Choice(index=0, message=ResponseMessage(content=text or (None if calls else ""), tool_calls=calls or None),
                        finish_reason=reason)],  # type: ignore[arg-type]
        usage=usage(data.get("usage")),
    )


@dataclass
class StreamTranslator:
    """Cohere v2 stream events -> OpenAI chunks; ``close`` raises ``stream_cut``
    unless ``message-end`` arrived."""

    model: str
    id: str | None = None
    created: int = field(default_factory=lambda: int(time.time()))
    done: bool = False
    _started: bool = False
    _calls: dict[int, int] = field(default_factory=dict)  # Cohere event index -> OpenAI tool index
    _current_call: int | None = None
    _usage: Usage | None = None

    def _chunk(self, delta: Delta | None = None, finish: str | None = None) -> ChatCompletionChunk:
        return ChatCompletionChunk(
            id=self.id or "", created=self.created, model=self.model,
            choices=[ChunkChoice(index=0, delta=delta or Delta(), finish_reason=finish)],  # type: ignore[arg-type]
        )

    def _start(self, event_id: str | None) -> list[ChatCompletionChunk]:
        if self._started:
            return []
        self._started = True
        self.id = f"chatcmpl-{event_id or uuid.uuid4().hex}"
        return [self._chunk(Delta(role="assistant", content=""))]

    def feed(self, event: dict[str, Any]) -> list[ChatCompletionChunk]:
        kind = event.get("type")
        out = self._start(event.get("id")) if kind == "message-start" or not self._started else []
        message = ((event.get("delta") or {}).get("message")) or {}
        if kind == "content-delta":
            content = message.get("content") or {}
            text = content.get("text")
            if isinstance(text, str) and text:  # "thinking" deltas carry no "text" and stay hidden
                out.append(self._chunk(Delta(content=text)))
        elif kind == "tool-plan-delta":
            plan = message.get("tool_plan")
            if isinstance(plan, str) and plan:
                out.append(self._chunk(Delta(content=plan)))
        elif kind == "tool-call-start":
            call = message.get("tool_calls") or {}
            index = len(self._calls)
            self._calls[int(event.get("index", index))] = index
            self._current_call = index
            function = call.get("function") or {}
            out.append(self._chunk(Delta(tool_calls=[ToolCallDelta(
                index=index, id=call.get("id") or f"call_{uuid.uuid4().hex[:24]}", type="function",
                function=ToolCallDeltaFunction(name=function.get("name", ""), arguments=function.get("arguments") or ""),
            )])))
        elif kind == "tool-call-delta":
            arguments = ((message.get("tool_calls") or {}).get("function") or {}).get("arguments")
            index = self._calls.get(int(event["index"])) if "index" in event else self._current_call
            if index is None:
                raise UpstreamError("provider streamed tool-call arguments before the tool call started")
            if arguments:
                out.append(self._chunk(Delta(tool_calls=[ToolCallDelta(
                    index=index, function=ToolCallDeltaFunction(arguments=arguments))])))
        elif kind == "message-end":
            delta = event.get("delta") or {}
            reason = finish_reason(delta.get("finish_reason"), delta.get("error"))
            if self._calls and reason == "stop":
                reason = "tool_calls"
            self._usage = usage(delta.get("usage"))
            self.done = True
            out.append(self._chunk(finish=reason))
        return out

    def close(self) -> list[ChatCompletionChunk]:
        if not self.done:
            raise UpstreamError("provider ended the stream before it completed", code="stream_cut")
        if self._usage is None:
            return []
        return [ChatCompletionChunk(id=self.id or "", created=self.created, model=self.model, choices=[],
                                    usage=self._usage)]


# ---------------------------------------------------------------- embeddings
def embed_request_body(request: EmbeddingsRequest, input_type: str) -> c.EmbedRequest:
    texts = embedding_texts(request, "Cohere embeddings take text input (token-id arrays are not supported)")
    if len(texts) > 96:
        raise InvalidRequest("Cohere embeds at most 96 texts per request")
    body: c.EmbedRequest = {
        "model": request.model, "texts": texts, "input_type": input_type, "embedding_types": ["float"],
    }
    if request.dimensions is not None:
        body["output_dimension"] = request.dimensions
    return body


@reads_upstream("cohere")
def embed_response(data: Any, model: str) -> EmbeddingsResponse:
    embeddings = (data.get("embeddings") or {}) if isinstance(data, dict) else {}
    vectors = embeddings.get("float") if isinstance(embeddings, dict) else None
    if not isinstance(vectors, list):
        raise UpstreamError("provider returned malformed embeddings")
    billed = ((data.get("meta") or {}).get("billed_units") or {})
    tokens = int(billed.get("input_tokens") or 0)
    return embeddings_response(model, [list(v) for v in vectors], tokens)

