"""Anthropic Messages (inbound) <-> canonical OpenAI chat models.

Pure functions, no I/O:
- ``request_to_canonical``: an Anthropic Messages request becomes a canonical
  ``ChatCompletionRequest`` (system lifted in as a system message, tool_use blocks
  as assistant tool_calls, tool_result blocks as tool messages, images as image_url
  parts).
- ``completion_to_message``: a canonical ``ChatCompletion`` becomes an Anthropic
  ``Message`` body.
- ``AnthropicStreamEncoder``: canonical ``ChatCompletionChunk``s become the Anthropic
  SSE events, in the order Anthropic emits them (message_start, ping, then per
  content block content_block_start / content_block_delta... / content_block_stop,
  then message_delta with the stop reason and usage, then message_stop).

Lossy points (documented, deliberate):
- ``top_k`` has no OpenAI equivalent and is dropped (OpenAI rejects unknown fields).
- ``cache_control`` markers, ``thinking`` configuration and thinking blocks in the
  history are dropped; ``metadata.user_id`` becomes ``user``.
- ``tool_result`` with ``is_error`` is prefixed with ``Error: `` since OpenAI tool
  messages carry no error flag; images inside a tool result follow the tool
  messages as a user message (OpenAI tool messages are text only).
- The canonical finish reason ``stop`` cannot tell end_turn from a stop sequence;
  it maps to ``stop_sequence`` (with the sequence) where the provider reported the hit
  (``wire.provider_facts``: Anthropic-family upstreams), else to ``end_turn``.
- ``message_start`` reports the upstream's own input tokens where the provider passed
  them on, else the mesh's count of the canonical prompt.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from llm_mesh.errors import InvalidRequest, MeshError, UpstreamError
from llm_mesh.inbound.anthropic.types import (
    AnthropicMessagesRequest,
    Base64Source,
    DocumentBlock,
    FileSource,
    ImageBlock,
    RedactedThinkingBlock,
    TextBlock,
    TextSource,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
    URLSource,
)
from llm_mesh.wire.openai_chat import ChatCompletion, ChatCompletionChunk, Usage
from llm_mesh.wire.provider_facts import start_usage_of, stop_sequence_of

# Canonical finish reason -> Anthropic stop_reason.
STOP_REASONS: dict[str | None, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
    None: "end_turn",
}

STRUCTURED_OUTPUT_NAME = "structured_output"


# ================================================================ request
def request_to_canonical(request: AnthropicMessagesRequest) -> dict[str, Any]:
    """The canonical request as a dict (validated by the caller into ChatCompletionRequest)."""
    messages: list[dict[str, Any]] = []
    if request.system:
        if isinstance(request.system, str):
            messages.append({"role": "system", "content": request.system})
        else:
            parts = [{"type": "text", "text": block.text} for block in request.system]
            if parts:
                messages.append({"role": "system", "content": parts})
    for position, message in enumerate(request.messages):
        where = f"messages.{position}"
        if message.role == "user":
            messages.extend(_user_messages(message.content, where))
        else:
            messages.append(_assistant_message(message.content, where))

    body: dict[str, Any] = {"model": request.model, "messages": messages, "max_tokens": request.max_tokens}
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.stop_sequences:
        body["stop"] = list(request.stop_sequences)
    if request.metadata is not None and request.metadata.user_id:
        body["user"] = request.metadata.user_id
    if request.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}  # message_delta reports usage

    tool_choice = request.tool_choice
    if request.tools:
        body["tools"] = [_tool(tool, f"tools.{i}") for i, tool in enumerate(request.tools)]
    if tool_choice is not None:
        if tool_choice.type == "auto":
            body["tool_choice"] = "auto"
        elif tool_choice.type == "any":
            body["tool_choice"] = "required"
        elif tool_choice.type == "none":
            body["tool_choice"] = "none"
        else:
            if not tool_choice.name:
                raise InvalidRequest("tool_choice of type 'tool' needs a name", param="tool_choice.name")
            body["tool_choice"] = {"type": "function", "function": {"name": tool_choice.name}}
        if tool_choice.disable_parallel_tool_use and request.tools:
            body["parallel_tool_calls"] = False
        if not request.tools and tool_choice.type != "none":
            raise InvalidRequest("tool_choice needs tools", param="tool_choice")

    if request.output_config is not None and request.output_config.format is not None:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": STRUCTURED_OUTPUT_NAME, "schema": request.output_config.format.schema_, "strict": True},
        }
    return body


def _tool(tool: Any, where: str) -> dict[str, Any]:
    if tool.type not in (None, "custom"):
        raise InvalidRequest(
            f"the Anthropic server tool {tool.type!r} is not available through the mesh; declare a custom tool",
            param=f"{where}.type",
        )
    if tool.input_schema is None:
        raise InvalidRequest("a tool needs an input_schema", param=f"{where}.input_schema")
    function: dict[str, Any] = {"name": tool.name, "parameters": tool.input_schema}
    if tool.description:
        function["description"] = tool.description
    return {"type": "function", "function": function}


def _image_part(block: ImageBlock, where: str) -> dict[str, Any]:
    source = block.source
    if isinstance(source, Base64Source):
        url = f"data:{source.media_type};base64,{source.data}"
    elif isinstance(source, URLSource):
        url = source.url
    else:
        raise InvalidRequest("images from the Files API (source type 'file') are not supported", param=f"{where}.source")
    return {"type": "image_url", "image_url": {"url": url}}


def _document_part(block: DocumentBlock, where: str) -> dict[str, Any]:
    source = block.source
    if isinstance(source, TextSource):
        title = f"{block.title}\n\n" if block.title else ""
        return {"type": "text", "text": title + source.data}
    if isinstance(source, Base64Source):
        return {
            "type": "file",
            "file": {
                "filename": block.title or "document.pdf",
                "file_data": f"data:{source.media_type};base64,{source.data}",
            },
        }
    kind = "url" if isinstance(source, URLSource) else "file"
    raise InvalidRequest(f"documents with source type {kind!r} are not supported; send base64 or text", param=f"{where}.source")


def _user_messages(content: Any, where: str) -> list[dict[str, Any]]:
    """One Anthropic user turn: tool results first (as tool messages), then the rest."""
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    tool_messages: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for index, block in enumerate(content):
        here = f"{where}.content.{index}"
        if isinstance(block, TextBlock):
            parts.append({"type": "text", "text": block.text})
        elif isinstance(block, ImageBlock):
            parts.append(_image_part(block, here))
        elif isinstance(block, DocumentBlock):
            parts.append(_document_part(block, here))
        elif isinstance(block, ToolResultBlock):
            text, extra = _tool_result(block, here)
            tool_messages.append({"role": "tool", "tool_call_id": block.tool_use_id, "content": text})
            parts.extend(extra)
        elif isinstance(block, (ThinkingBlock, RedactedThinkingBlock)):
            continue
        else:
            raise InvalidRequest(f"a user message cannot hold a {block.type} block", param=f"{here}.type")
    messages = list(tool_messages)
    if parts:
        messages.append({"role": "user", "content": parts})
    if not messages:
        raise InvalidRequest("a user message needs content", param=f"{where}.content")
    return messages


def _tool_result(block: ToolResultBlock, where: str) -> tuple[str, list[dict[str, Any]]]:
    texts: list[str] = []
    extra: list[dict[str, Any]] = []
    if isinstance(block.content, str):
        texts.append(block.content)
    elif block.content:
        for index, item in enumerate(block.content):
            here = f"{where}.content.{index}"
            if isinstance(item, TextBlock):
                texts.append(item.text)
            elif isinstance(item, ImageBlock):
                extra.append(_image_part(item, here))
            else:
                part = _document_part(item, here)
                if part["type"] == "text":
                    texts.append(part["text"])
                else:
                    extra.append(part)
    text = "\n".join(texts)
    if block.is_error:
        text = f"Error: {text}" if text else "Error"
    return text, extra


def _assistant_message(content: Any, where: str) -> dict[str, Any]:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for index, block in enumerate(content):
        if isinstance(block, TextBlock):
            texts.append(block.text)
        elif isinstance(block, ToolUseBlock):
            calls.append({
                "id": block.id,
                "type": "function",
                "function": {"name": block.name, "arguments": json.dumps(block.input, separators=(",", ":"), ensure_ascii=False)},
            })
        elif isinstance(block, (ThinkingBlock, RedactedThinkingBlock)):
            continue
        else:
            raise InvalidRequest(
                f"an assistant message cannot hold a {block.type} block", param=f"{where}.content.{index}.type"
            )
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if calls:
        message["tool_calls"] = calls
    return message


# ================================================================ response
def message_id(canonical_id: str | None) -> str:
    if canonical_id and canonical_id.startswith("msg_"):
        return canonical_id
    return f"msg_{canonical_id or uuid.uuid4().hex}"


def usage_to_anthropic(usage: Usage | None) -> dict[str, int]:
    """Anthropic counts cache reads apart from input_tokens; OpenAI includes them."""
    if usage is None:
        return {"input_tokens": 0, "output_tokens": 0}
    cached = 0
    if usage.prompt_tokens_details is not None and usage.prompt_tokens_details.cached_tokens:
        cached = usage.prompt_tokens_details.cached_tokens
    result = {"input_tokens": max(0, usage.prompt_tokens - cached), "output_tokens": usage.completion_tokens}
    if cached:
        result["cache_read_input_tokens"] = cached
    return result


def _tool_input(arguments: str) -> dict[str, Any]:
    if not arguments:
        return {}
    try:
        value = json.loads(arguments)
    except ValueError:
        raise UpstreamError("the model produced tool call arguments that are not JSON") from None
    if not isinstance(value, dict):
        raise UpstreamError("the model produced tool call arguments that are not a JSON object")
    return value


def completion_to_message(completion: ChatCompletion, requested_model: str) -> dict[str, Any]:
    choice = next((c for c in completion.choices if c.index == 0), completion.choices[0] if completion.choices else None)
    content: list[dict[str, Any]] = []
    finish: str | None = None
    if choice is not None:
        message = choice.message
        text = message.content if message.content else message.refusal
        if text:
            content.append({"type": "text", "text": text})
        for call in message.tool_calls or []:
            content.append({"type": "tool_use", "id": call.id, "name": call.function.name, "input": _tool_input(call.function.arguments)})
        finish = choice.finish_reason
    stop_reason = STOP_REASONS.get(finish, "end_turn")
    if finish is None and choice is not None and choice.message.tool_calls:
        stop_reason = "tool_use"
    stop_sequence = stop_sequence_of(choice) if finish == "stop" else None
    if stop_sequence is not None:
        stop_reason = "stop_sequence"
    return {
        "id": message_id(completion.id),
        "type": "message",
        "role": "assistant",
        "model": requested_model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": usage_to_anthropic(completion.usage),
    }


# ================================================================ stream
def sse_event(event: str, data: dict[str, Any]) -> bytes:
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return f"event: {event}\ndata: {payload}\n\n".encode("utf-8")


class AnthropicStreamEncoder:
    """Stateful chunk -> Anthropic SSE events encoder (only choice 0 is translated).

    Content blocks are strictly sequential, as Anthropic sends them: a block is
    closed before the next one opens. Tool call fragments for a call whose block was
    already closed cannot be expressed and raise an UpstreamError.
    """

    def __init__(self, requested_model: str, input_tokens: int = 0) -> None:
        self.model = requested_model
        self.input_tokens = input_tokens  # the mesh's count, used when the upstream gave none at the start
        self.stop_sequence: str | None = None
        self.started = False
        self.finished = False
        self.block_index = -1
        self.open_kind: str | None = None  # "text" | "tool_use"
        self.open_tool: int | None = None  # canonical tool call index of the open block
        self.closed_tools: set[int] = set()
        self.stop_reason: str | None = None
        self.usage: Usage | None = None
        self.saw_tool_call = False

    # -- helpers
    def _start(self, chunk: ChatCompletionChunk) -> list[bytes]:
        self.started = True
        upstream = start_usage_of(chunk)
        usage = usage_to_anthropic(upstream) if upstream is not None else {"input_tokens": self.input_tokens}
        usage["output_tokens"] = 0
        message = {
            "id": message_id(chunk.id),
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        }
        return [sse_event("message_start", {"type": "message_start", "message": message}), sse_event("ping", {"type": "ping"})]

    def _close(self) -> list[bytes]:
        if self.open_kind is None:
            return []
        if self.open_tool is not None:
            self.closed_tools.add(self.open_tool)
        self.open_kind, self.open_tool = None, None
        return [sse_event("content_block_stop", {"type": "content_block_stop", "index": self.block_index})]

    def _open(self, block: dict[str, Any], kind: str, tool: int | None = None) -> list[bytes]:
        out = self._close()
        self.block_index += 1
        self.open_kind, self.open_tool = kind, tool
        out.append(sse_event("content_block_start", {"type": "content_block_start", "index": self.block_index, "content_block": block}))
        return out

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return sse_event("content_block_delta", {"type": "content_block_delta", "index": self.block_index, "delta": delta})

    # -- public
    def feed(self, chunk: ChatCompletionChunk) -> list[bytes]:
        out: list[bytes] = []
        if not self.started:
            out.extend(self._start(chunk))
        if chunk.usage is not None:
            self.usage = chunk.usage
        for choice in chunk.choices:
            if choice.index != 0:
                continue
            delta = choice.delta
            text = delta.content if delta.content else delta.refusal
            if text:
                if self.open_kind != "text":
                    out.extend(self._open({"type": "text", "text": ""}, "text"))
                out.append(self._delta({"type": "text_delta", "text": text}))
            for call in delta.tool_calls or []:
                self.saw_tool_call = True
                if call.index != self.open_tool or self.open_kind != "tool_use":
                    if call.index in self.closed_tools:
                        raise UpstreamError("the upstream interleaved tool call fragments; cannot translate the stream")
                    name = call.function.name if call.function and call.function.name else ""
                    block = {"type": "tool_use", "id": call.id or f"toolu_{uuid.uuid4().hex[:24]}", "name": name, "input": {}}
                    out.extend(self._open(block, "tool_use", call.index))
                arguments = call.function.arguments if call.function else None
                if arguments:
                    out.append(self._delta({"type": "input_json_delta", "partial_json": arguments}))
            if choice.finish_reason is not None:
                out.extend(self._close())
                self.stop_reason = STOP_REASONS.get(choice.finish_reason, "end_turn")
                self.stop_sequence = stop_sequence_of(choice) if choice.finish_reason == "stop" else None
                if self.stop_sequence is not None:
                    self.stop_reason = "stop_sequence"
        return out

    def finish(self) -> list[bytes]:
        """The closing events; raises UpstreamError if no finish reason ever came."""
        if self.stop_reason is None:
            raise UpstreamError("the upstream stream ended before it completed", code="stream_cut")
        out = self._close()
        usage = usage_to_anthropic(self.usage)
        out.append(sse_event("message_delta", {
            "type": "message_delta",
            "delta": {"stop_reason": self.stop_reason, "stop_sequence": self.stop_sequence},
            "usage": usage,
        }))
        out.append(sse_event("message_stop", {"type": "message_stop"}))
        self.finished = True
        return out


# ================================================================ errors
def error_type(error: MeshError) -> str:
    status = error.status
    if status == 401:
        return "authentication_error"
    if status == 403:
        return "permission_error"
    if status == 404:
        return "not_found_error"
    if status == 413:
        return "request_too_large"
    if status == 429:
        return "rate_limit_error"
    if status == 503 or status == 529:
        return "overloaded_error"
    if 400 <= status < 500:
        return "invalid_request_error"
    return "api_error"


def error_body(error: MeshError) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type(error), "message": error.message}}
