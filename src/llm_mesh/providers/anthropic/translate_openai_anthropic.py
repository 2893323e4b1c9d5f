"""Canonical (OpenAI chat) <-> Anthropic Messages API. Pure functions, no I/O.

Request:
- system and developer messages are lifted into ``system`` (text blocks, in order);
- consecutive same-role turns are merged (Anthropic requires alternation); tool
  messages become ``tool_result`` blocks of a user turn, placed before any text of
  that turn, as Anthropic requires;
- image parts: ``data:`` URLs become base64 sources, http(s) URLs url sources; file
  parts (PDF data URLs) become document blocks;
- assistant ``tool_calls`` become ``tool_use`` blocks (arguments parsed as JSON);
- tools become ``{name, description, input_schema}``; ``tool_choice``
  auto/required/none/named become auto/any/none/tool; ``parallel_tool_calls: false``
  sets ``disable_parallel_tool_use``;
- ``max_tokens`` is required by Anthropic: max_completion_tokens, else max_tokens,
  else the provider's ``default_max_tokens``; ``stop`` -> ``stop_sequences``;
  ``temperature`` is clamped to Anthropic's 0..1 range; ``user`` -> ``metadata.user_id``;
- ``response_format`` json_schema: native structured outputs
  (``output_config: {format: {type: json_schema, schema}}``, GA per the current
  structured-outputs docs and the SDK's OutputConfigParam) where the model supports
  it, otherwise a forced tool named after the schema whose input is the answer (the
  tool_use is turned back into JSON text content with finish_reason ``stop``).
  ``json_object`` has no Anthropic equivalent and is not sent.
- Dropped because Anthropic has no equivalent: seed, presence/frequency penalties,
  logprobs, logit_bias. ``n`` > 1 is rejected.

Response: text blocks -> content, tool_use -> tool_calls, thinking blocks dropped;
stop_reason end_turn/stop_sequence/pause_turn -> stop, max_tokens and
model_context_window_exceeded -> length, tool_use -> tool_calls, refusal ->
content_filter (the stop sequence hit rides beside the choice, ``wire.provider_facts``, for
the inbound Anthropic API; a stream's first chunk carries message_start's usage the same
way); usage: prompt_tokens = input + cache_read + cache_creation,
cached_tokens = cache_read_input_tokens.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from llm_mesh.errors import InvalidRequest, UpstreamError
from llm_mesh.providers.anthropic.capabilities import supports_native_structured_output
from llm_mesh.providers.anthropic.options import AnthropicOptions
from llm_mesh.providers.common.finish_reasons import CLAUDE_STOP_REASONS, lookup_finish_reason
from llm_mesh.providers.common.images import parse_data_url
from llm_mesh.providers.common.malformed import reads_upstream
from llm_mesh.providers.common.messages import append_turn, stop_list
from llm_mesh.providers.common.tool_calls import parse_tool_arguments
from llm_mesh.providers.common.usage import make_usage
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
)
from llm_mesh.wire.provider_facts import set_start_usage, set_stop_sequence

FINISH_REASONS: dict[str, str] = {**CLAUDE_STOP_REASONS, "pause_turn": "stop", "refusal": "content_filter"}

_IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}


@dataclass(frozen=True)
class OutboundPlan:
    """What the response translation must know about how the request was sent."""

    body: dict[str, Any]
    json_tool: str | None = None  # structured output sent as this forced tool


# ================================================================ request
def _text_of(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(getattr(part, "text", "") or "" for part in content)


def _image_block(url: str, where: str) -> dict[str, Any]:
    parsed = parse_data_url(url)
    media_type = parsed.media_type if parsed else None
    if parsed and media_type:
        if media_type not in _IMAGE_TYPES:
            raise InvalidRequest(
                f"Anthropic accepts jpeg, png, gif and webp images, not {media_type}", param=where
            )
        return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": parsed.data}}
    if url.startswith(("http://", "https://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    raise InvalidRequest("an image_url must be a data: URL or an http(s) URL", param=where)


def _file_block(part: Any, where: str) -> dict[str, Any]:
    file = getattr(part, "file", None)
    data = file.get("file_data") if isinstance(file, dict) else None
    parsed = parse_data_url(data) if isinstance(data, str) else None
    if parsed is None or parsed.media_type != "application/pdf":
        raise InvalidRequest("only PDF file parts given as base64 data URLs reach Anthropic", param=where)
    block: dict[str, Any] = {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": parsed.data},
    }
    if isinstance(file, dict) and isinstance(file.get("filename"), str):
        block["title"] = file["filename"]
    return block


def _user_blocks(content: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for index, part in enumerate(content):
        here = f"{where}.content.{index}"
        if part.type == "text":
            if part.text:
                blocks.append({"type": "text", "text": part.text})
        elif part.type == "image_url":
            blocks.append(_image_block(part.image_url.url, f"{here}.image_url.url"))
        elif part.type == "file":
            blocks.append(_file_block(part, here))
        else:
            raise InvalidRequest(f"Anthropic does not accept {part.type} content parts", param=f"{here}.type")
    return blocks


def _assistant_blocks(message: Any, where: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    text = _text_of(message.content)
    if text:
        blocks.append({"type": "text", "text": text})
    for index, call in enumerate(message.tool_calls or []):
        arguments = parse_tool_arguments(
            call.function.arguments,
            not_json="tool call arguments must be JSON to reach Anthropic",
            not_object="tool call arguments must be a JSON object to reach Anthropic",
            param=f"{where}.tool_calls.{index}.function.arguments",
        )
        blocks.append({"type": "tool_use", "id": call.id, "name": call.function.name, "input": arguments})
    return blocks


def _messages(request: ChatCompletionRequest) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []

    def append(role: str, blocks: list[dict[str, Any]]) -> None:
        append_turn(turns, role, blocks)

    for index, message in enumerate(request.messages):
        where = f"messages.{index}"
        if message.role in ("system", "developer"):
            text = _text_of(message.content)
            if text:
                system.append({"type": "text", "text": text})
        elif message.role == "user":
            append("user", _user_blocks(message.content, where))
        elif message.role == "assistant":
            append("assistant", _assistant_blocks(message, where))
        else:  # tool
            result: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id}
            text = _text_of(message.content)
            if text:
                result["content"] = text
            append("user", [result])
    for turn in turns:
        if turn["role"] == "user":
            # tool_result blocks must open the user turn that answers the tool calls.
            turn["content"].sort(key=lambda block: block["type"] != "tool_result")
    return system, turns


def _tool_choice(request: ChatCompletionRequest) -> dict[str, Any] | None:
    choice = request.tool_choice
    if choice is None:
        result: dict[str, Any] | None = None
    elif choice == "auto":
        result = {"type": "auto"}
    elif choice == "required":
        result = {"type": "any"}
    elif choice == "none":
        return {"type": "none"}
    else:
        result = {"type": "tool", "name": choice.function.name}
    if request.parallel_tool_calls is False:
        result = result or {"type": "auto"}
        result["disable_parallel_tool_use"] = True
    return result


def chat_request_body(request: ChatCompletionRequest, options: AnthropicOptions, *, stream: bool) -> OutboundPlan:
    if request.n is not None and request.n > 1:
        raise InvalidRequest("Anthropic models return one choice; n must be 1", param="n")
    system, turns = _messages(request)
    if not turns:
        raise InvalidRequest("Anthropic needs at least one user or assistant message with content", param="messages")
    body: dict[str, Any] = {
        "model": request.model,
        "messages": turns,
        "max_tokens": request.max_completion_tokens or request.max_tokens or options.default_max_tokens,
    }
    if system:
        body["system"] = system
    if request.stop is not None:
        stops = [s for s in stop_list(request.stop) if s]
        if stops:
            body["stop_sequences"] = stops
    if request.temperature is not None:
        body["temperature"] = min(request.temperature, 1.0)
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.user:
        body["metadata"] = {"user_id": request.user}

    tools: list[dict[str, Any]] = []
    for tool in request.tools or []:
        spec: dict[str, Any] = {
            "name": tool.function.name,
            "input_schema": tool.function.parameters or {"type": "object", "properties": {}},
        }
        if tool.function.description:
            spec["description"] = tool.function.description
        if tool.function.strict:
            spec["strict"] = True
        tools.append(spec)
    tool_choice = _tool_choice(request) if tools else None

    json_tool: str | None = None
    response_format = request.response_format
    if response_format is not None and response_format.type == "json_schema" and response_format.json_schema is not None:
        schema = response_format.json_schema.schema_ or {"type": "object"}
        mode = options.structured_output
        if mode == "auto":
            mode = "output_config" if supports_native_structured_output(request.model) else "tool"
        if mode == "output_config":
            body["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
        else:
            json_tool = response_format.json_schema.name
            description = response_format.json_schema.description or "Respond by calling this tool with the answer."
            tools.append({"name": json_tool, "description": description, "input_schema": schema})
            if len(tools) == 1:  # no tools of the caller's own: force the answer through this one
                tool_choice = {"type": "tool", "name": json_tool}
    if tools:
        body["tools"] = tools
        if tool_choice is not None:
            body["tool_choice"] = tool_choice
    if stream:
        body["stream"] = True
    return OutboundPlan(body=body, json_tool=json_tool)


# ================================================================ response
def usage_from(data: Any) -> Usage:
    data = data if isinstance(data, dict) else {}
    input_tokens = int(data.get("input_tokens") or 0)
    cache_read = int(data.get("cache_read_input_tokens") or 0)
    cache_write = int(data.get("cache_creation_input_tokens") or 0)
    output_tokens = int(data.get("output_tokens") or 0)
    return make_usage(input_tokens + cache_read + cache_write, output_tokens, cached=cache_read)


def finish_reason(stop_reason: Any) -> str | None:
    return lookup_finish_reason(stop_reason, FINISH_REASONS)


@reads_upstream("anthropic")
def chat_response(data: Any, json_tool: str | None = None) -> ChatCompletion:
    try:
        blocks = data["content"]
        texts: list[str] = []
        calls: list[ToolCall] = []
        for block in blocks:
            kind = block.get("type")
            if kind == "text":
                texts.append(block["text"])
            elif kind == "tool_use":
                arguments = json.dumps(block.get("input") or {}, separators=(",", ":"), ensure_ascii=False)
                if json_tool is not None and block["name"] == json_tool:
                    texts.append(arguments)
                else:
                    calls.append(ToolCall(id=block["id"], function=FunctionCall(name=block["name"], arguments=arguments)))
        finish = finish_reason(data.get("stop_reason")) or "stop"
        if json_tool is not None and finish == "tool_calls" and not calls:
            finish = "stop"
        message = ResponseMessage(content="".join(texts) if texts or not calls else None, tool_calls=calls or None)
        return ChatCompletion(
            id=str(data["id"]),
            created=int(time.time()),
            model=str(data.get("model") or ""),
            choices=[set_stop_sequence(Choice(index=0, message=message, finish_reason=finish), _stop_sequence(data))],
            usage=usage_from(data.get("usage")),
        )
    except (KeyError, TypeError, AttributeError, ValueError):
        raise UpstreamError("Anthropic returned a malformed message") from None


def _stop_sequence(data: Any) -> str | None:
    """The stop sequence Anthropic says ended the message (kept beside the canonical ``stop``)."""
    if not isinstance(data, dict) or data.get("stop_reason") != "stop_sequence":
        return None
    value = data.get("stop_sequence")
    return value if isinstance(value, str) else None


# ================================================================ stream
@dataclass
class StreamTranslator:
    """Anthropic stream events -> canonical chunks (one choice, index 0)."""

    json_tool: str | None = None
    message_id: str = ""
    model: str = ""
    created: int = field(default_factory=lambda: int(time.time()))
    usage: dict[str, Any] = field(default_factory=dict)
    finish: str | None = None
    completed: bool = False
    started: bool = False
    _tool_index: dict[int, int] = field(default_factory=dict)  # content block index -> tool call index
    _json_blocks: set[int] = field(default_factory=set)  # blocks of the structured-output tool

    def _chunk(self, delta: Delta | None = None, finish: str | None = None, usage: Usage | None = None) -> ChatCompletionChunk:
        choices = [] if delta is None else [ChunkChoice(index=0, delta=delta, finish_reason=finish)]
        return ChatCompletionChunk(id=self.message_id, created=self.created, model=self.model, choices=choices, usage=usage)

    def feed(self, event: str | None, payload: dict[str, Any]) -> list[ChatCompletionChunk]:
        kind = payload.get("type") or event
        if kind == "message_start":
            return self._message_start(payload.get("message") or {})
        if not self.started:
            raise UpstreamError("Anthropic stream did not start with message_start")
        if kind == "content_block_start":
            return self._block_start(int(payload["index"]), payload.get("content_block") or {})
        if kind == "content_block_delta":
            return self._block_delta(int(payload["index"]), payload.get("delta") or {})
        if kind == "message_delta":
            return self._message_delta(payload)
        if kind == "message_stop":
            return self._message_stop()
        return []  # content_block_stop, ping, unknown future events

    def _message_start(self, message: dict[str, Any]) -> list[ChatCompletionChunk]:
        self.message_id = str(message.get("id") or "")
        self.model = str(message.get("model") or "")
        self.usage.update({k: v for k, v in (message.get("usage") or {}).items() if v is not None})
        self.started = True
        return [set_start_usage(self._chunk(Delta(role="assistant", content="")), usage_from(self.usage))]

    def _block_start(self, index: int, block: dict[str, Any]) -> list[ChatCompletionChunk]:
        if block.get("type") == "text" and block.get("text"):
            return [self._chunk(Delta(content=block["text"]))]
        if block.get("type") != "tool_use":
            return []
        if self.json_tool is not None and block.get("name") == self.json_tool:
            self._json_blocks.add(index)  # its input streams as the answer's text
            return []
        call_index = len(self._tool_index)
        self._tool_index[index] = call_index
        return [self._chunk(Delta(tool_calls=[ToolCallDelta(
            index=call_index, id=block.get("id"), type="function",
            function=ToolCallDeltaFunction(name=block.get("name"), arguments=""),
        )]))]

    def _block_delta(self, index: int, delta: dict[str, Any]) -> list[ChatCompletionChunk]:
        if delta.get("type") == "text_delta":
            return [self._chunk(Delta(content=delta.get("text", "")))] if delta.get("text") else []
        if delta.get("type") == "input_json_delta":
            fragment = delta.get("partial_json") or ""
            if not fragment:
                return []
            if index in self._json_blocks:
                return [self._chunk(Delta(content=fragment))]
            if index in self._tool_index:
                return [self._chunk(Delta(tool_calls=[ToolCallDelta(
                    index=self._tool_index[index], function=ToolCallDeltaFunction(arguments=fragment),
                )]))]
        return []  # thinking_delta, signature_delta, citations_delta

    def _message_delta(self, payload: dict[str, Any]) -> list[ChatCompletionChunk]:
        self.usage.update({k: v for k, v in (payload.get("usage") or {}).items() if v is not None})
        stop_reason = (payload.get("delta") or {}).get("stop_reason")
        finish = finish_reason(stop_reason)
        if finish is None:
            return []
        if self.json_tool is not None and finish == "tool_calls" and not self._tool_index:
            finish = "stop"
        self.finish = finish
        chunk = self._chunk(Delta(), finish=finish)
        set_stop_sequence(chunk.choices[0], _stop_sequence(payload.get("delta")))
        return [chunk]

    def _message_stop(self) -> list[ChatCompletionChunk]:
        self.completed = True
        out = []
        if self.finish is None:
            self.finish = "stop"
            out.append(self._chunk(Delta(), finish="stop"))
        out.append(self._chunk(usage=usage_from(self.usage)))
        return out
