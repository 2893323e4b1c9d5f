"""OpenAI chat (canonical) <-> Bedrock Converse / ConverseStream. Pure functions, no I/O.

Request mapping:
- system/developer messages -> ``system`` text blocks (for families without system
  prompt support, e.g. Titan text and Mistral 7B/Mixtral, the system text is
  prepended to the first user turn instead);
- user content -> ``text`` / ``image`` blocks. Bedrock needs image *bytes*: a
  ``data:`` URL is decoded; an http(s) URL is rejected (the mesh never fetches
  client-supplied URLs);
- assistant ``tool_calls`` -> ``toolUse`` blocks; ``tool`` messages -> ``toolResult``
  blocks in a user turn. Consecutive turns of the same role are merged, as
  Converse requires alternating roles;
- ``tools`` -> ``toolConfig.tools[].toolSpec`` with ``inputSchema.json``;
  ``tool_choice`` auto/required/named -> ``auto``/``any``/``tool``; ``none`` drops
  the tool config (kept without a choice when the history holds tool blocks,
  which Converse requires);
- max_tokens/max_completion_tokens, temperature, top_p, stop -> ``inferenceConfig``;
- ``response_format`` json_schema -> ``outputConfig.textFormat`` (structured output).

Documented omissions: ``seed``, ``presence_penalty``, ``frequency_penalty``,
``logprobs``, ``user``, ``parallel_tool_calls`` and ``response_format`` json_object
have no Converse equivalent and are ignored; ``n`` > 1 is rejected (Converse
returns one choice and silently returning fewer than asked would be wrong).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from llm_mesh.errors import InvalidRequest, UpstreamError
from llm_mesh.providers.bedrock.capabilities import BedrockModel, lookup
from llm_mesh.providers.bedrock.types import STREAM_EXCEPTION_EVENTS
from llm_mesh.providers.common.finish_reasons import CLAUDE_STOP_REASONS
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
    message_text,
)

_IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/gif": "gif", "image/webp": "webp"}

STOP_REASONS: dict[str, str] = {
    **CLAUDE_STOP_REASONS,
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
    "malformed_model_output": "stop",
    "malformed_tool_use": "stop",
}


# ------------------------------------------------------------------ request
def image_block(url: str) -> dict[str, Any]:
    parsed = parse_data_url(url)
    if parsed is None or (parsed.mime is not None and parsed.media_type is None):
        raise InvalidRequest(
            "Bedrock needs image bytes: send images as data: URLs (base64), not http(s) links",
            param="messages",
            code="image_url_not_supported",
        )
    mime = parsed.media_type or ""
    fmt = _IMAGE_FORMATS.get(mime)
    if fmt is None:
        raise InvalidRequest(f"image type {mime or 'unknown'!r} is not supported (png, jpeg, gif, webp)", param="messages")
    raw = parsed.decode("image data URL is not valid base64", param="messages")
    return {"image": {"format": fmt, "source": {"bytes": raw}}}


def _user_blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for part in content:
        if part.type == "text":
            if part.text:
                blocks.append({"text": part.text})
        elif part.type == "image_url":
            blocks.append(image_block(part.image_url.url))
        else:
            raise InvalidRequest(f"content part type {part.type!r} is not supported on Bedrock", param="messages")
    return blocks


def _tool_input(arguments: str) -> Any:
    return parse_tool_arguments(
        arguments, not_json="tool call arguments must be a JSON object for Bedrock", param="messages"
    )


def _tool_choice(request: ChatCompletionRequest) -> dict[str, Any] | None:
    choice = request.tool_choice
    if choice is None or choice == "auto":
        return {"auto": {}}
    if choice == "required":
        return {"any": {}}
    if choice == "none":
        return None
    return {"tool": {"name": choice.function.name}}


def converse_request(request: ChatCompletionRequest, model: BedrockModel | None = None) -> dict[str, Any]:
    """Keyword arguments for ``client.converse`` / ``client.converse_stream``."""
    model = model or lookup(request.model)
    if request.n is not None and request.n > 1:
        raise InvalidRequest("Bedrock Converse returns a single choice; n > 1 is not supported", param="n")
    system_texts, messages, has_tool_blocks = _conversation(request)
    kwargs: dict[str, Any] = {"modelId": request.model}
    if system_texts:
        if model.system:
            kwargs["system"] = [{"text": text} for text in system_texts]
        else:
            _prepend_to_first_user_turn(messages, {"text": "\n\n".join(system_texts)})
    kwargs["messages"] = messages
    inference = _inference_config(request)
    if inference:
        kwargs["inferenceConfig"] = inference
    tool_config = _tool_config(request, has_tool_blocks)
    if tool_config is not None:
        kwargs["toolConfig"] = tool_config
    output_config = _output_config(request)
    if output_config is not None:
        kwargs["outputConfig"] = output_config
    return kwargs


def _conversation(request: ChatCompletionRequest) -> tuple[list[str], list[dict[str, Any]], bool]:
    """(system texts, Converse messages, whether the history holds tool blocks)."""
    system_texts: list[str] = []
    messages: list[dict[str, Any]] = []
    has_tool_blocks = False
    for message in request.messages:
        role = message.role
        if role in ("system", "developer"):
            text = message_text(message.content)
            if text:
                system_texts.append(text)
        elif role == "user":
            append_turn(messages, "user", _user_blocks(message.content))
        elif role == "assistant":
            has_tool_blocks = has_tool_blocks or bool(message.tool_calls)
            append_turn(messages, "assistant", _assistant_blocks(message))
        elif role == "tool":
            has_tool_blocks = True
            result = {"toolUseId": message.tool_call_id, "content": [{"text": message_text(message.content)}]}
            append_turn(messages, "user", [{"toolResult": result}])
    return system_texts, messages, has_tool_blocks


def _assistant_blocks(message: Any) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    text = message_text(message.content)
    if text:
        blocks.append({"text": text})
    for call in message.tool_calls or []:
        blocks.append(
            {"toolUse": {"toolUseId": call.id, "name": call.function.name, "input": _tool_input(call.function.arguments)}}
        )
    return blocks


def _prepend_to_first_user_turn(messages: list[dict[str, Any]], prefix: dict[str, Any]) -> None:
    """Where the model family takes no system prompt, its text opens the first user turn."""
    first_user = next((m for m in messages if m["role"] == "user"), None)
    if first_user is None:
        messages.insert(0, {"role": "user", "content": [prefix]})
    else:
        first_user["content"].insert(0, prefix)


def _inference_config(request: ChatCompletionRequest) -> dict[str, Any]:
    inference: dict[str, Any] = {}
    if request.output_token_limit is not None:
        inference["maxTokens"] = request.output_token_limit
    if request.temperature is not None:
        inference["temperature"] = request.temperature
    if request.top_p is not None:
        inference["topP"] = request.top_p
    if request.stop:
        inference["stopSequences"] = stop_list(request.stop)
    return inference


def _tool_config(request: ChatCompletionRequest, has_tool_blocks: bool) -> dict[str, Any] | None:
    """``toolConfig``, or None; kept without a choice under ``none`` when the history holds tool blocks."""
    if not request.tools:
        return None
    choice = _tool_choice(request)
    if choice is None and not has_tool_blocks:
        return None
    tools = []
    for tool in request.tools:
        spec: dict[str, Any] = {
            "name": tool.function.name,
            "inputSchema": {"json": tool.function.parameters or {"type": "object", "properties": {}}},
        }
        if tool.function.description:
            spec["description"] = tool.function.description
        tools.append({"toolSpec": spec})
    config: dict[str, Any] = {"tools": tools}
    if choice is not None:
        config["toolChoice"] = choice
    return config


def _output_config(request: ChatCompletionRequest) -> dict[str, Any] | None:
    """Structured output for a json_schema ``response_format`` (json_object has no Converse equivalent)."""
    fmt = request.response_format
    if fmt is None or fmt.type != "json_schema" or fmt.json_schema is None:
        return None
    schema: dict[str, Any] = {
        "schema": json.dumps(fmt.json_schema.schema_ or {"type": "object"}),
        "name": fmt.json_schema.name,
    }
    if fmt.json_schema.description:
        schema["description"] = fmt.json_schema.description
    return {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": schema}}}


# ------------------------------------------------------------------ responses
def usage_from(data: Any) -> Usage | None:
    """Bedrock TokenUsage -> OpenAI usage.

    Bedrock's ``inputTokens`` excludes prompt-cache reads and writes, while OpenAI's
    ``prompt_tokens`` includes cached tokens: they are added back, and cache reads
    become ``prompt_tokens_details.cached_tokens``.
    """
    if not isinstance(data, dict):
        return None
    cache_read = int(data.get("cacheReadInputTokens") or 0)
    cache_write = int(data.get("cacheWriteInputTokens") or 0)
    prompt = int(data.get("inputTokens") or 0) + cache_read + cache_write
    completion = int(data.get("outputTokens") or 0)
    return make_usage(prompt, completion, cached=cache_read if cache_read or cache_write else None)


def finish_reason(stop_reason: Any, has_tool_calls: bool) -> str:
    reason = STOP_REASONS.get(str(stop_reason), "stop")
    if has_tool_calls and reason == "stop" and stop_reason in ("end_turn", "tool_use"):
        return "tool_calls"
    return reason


@reads_upstream("bedrock")
def converse_response(data: Any, *, model: str, response_id: str, created: int | None = None) -> ChatCompletion:
    if not isinstance(data, dict):
        raise UpstreamError("Bedrock returned a malformed Converse response")
    message = ((data.get("output") or {}).get("message")) or {}
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in message.get("content") or []:
        if not isinstance(block, dict):
            continue
        if "text" in block:
            texts.append(block["text"])
        elif "toolUse" in block:
            use = block["toolUse"]
            calls.append(
                ToolCall(
                    id=use.get("toolUseId") or f"call_{len(calls)}",
                    function=FunctionCall(name=use.get("name", ""), arguments=json.dumps(use.get("input") or {})),
                )
            )
    return ChatCompletion(
        id=response_id,
        created=created if created is not None else int(time.time()),
        model=model,
        choices=[
            Choice(
                index=0,
                message=ResponseMessage(content="".join(texts) if texts or not calls else None, tool_calls=calls or None),
                finish_reason=finish_reason(data.get("stopReason"), bool(calls)),
            )
        ],
        usage=usage_from(data.get("usage")),
    )


# ------------------------------------------------------------------ stream
@dataclass
class StreamTranslator:
    """Turns parsed ConverseStream events (botocore dicts) into OpenAI chunks."""

    model: str
    response_id: str
    created: int = field(default_factory=lambda: int(time.time()))
    started: bool = False
    stopped: bool = False
    finished: bool = False  # metadata (usage) seen: the terminal event
    _tools: dict[int, int] = field(default_factory=dict)  # contentBlockIndex -> tool_call index

    def _chunk(self, delta: Delta, finish: str | None = None) -> ChatCompletionChunk:
        return ChatCompletionChunk(
            id=self.response_id,
            created=self.created,
            model=self.model,
            choices=[ChunkChoice(index=0, delta=delta, finish_reason=finish)],
        )

    def _ensure_started(self, out: list[ChatCompletionChunk]) -> None:
        if not self.started:
            self.started = True
            out.append(self._chunk(Delta(role="assistant", content="")))

    def feed(self, event: dict[str, Any]) -> list[ChatCompletionChunk]:
        out: list[ChatCompletionChunk] = []
        for name in STREAM_EXCEPTION_EVENTS:
            if name in event:
                raise StreamException(name, str((event[name] or {}).get("message") or ""))
        if "messageStart" in event:
            self._ensure_started(out)
        elif "contentBlockStart" in event:
            self._ensure_started(out)
            self._block_start(event["contentBlockStart"], out)
        elif "contentBlockDelta" in event:
            self._ensure_started(out)
            self._block_delta(event["contentBlockDelta"], out)
        elif "messageStop" in event:
            self._ensure_started(out)
            self.stopped = True
            reason = event["messageStop"].get("stopReason")
            out.append(self._chunk(Delta(), finish_reason(reason, bool(self._tools))))
        elif "metadata" in event:
            self.finished = True
            usage = usage_from(event["metadata"].get("usage"))
            if usage is not None:
                out.append(
                    ChatCompletionChunk(
                        id=self.response_id, created=self.created, model=self.model, choices=[], usage=usage
                    )
                )
        return out

    def _block_start(self, body: dict[str, Any], out: list[ChatCompletionChunk]) -> None:
        """A toolUse block opens the next tool call (text blocks need no chunk of their own)."""
        use = (body.get("start") or {}).get("toolUse")
        if use is None:
            return
        index = len(self._tools)
        self._tools[int(body.get("contentBlockIndex", index))] = index
        call = ToolCallDelta(
            index=index,
            id=use.get("toolUseId"),
            type="function",
            function=ToolCallDeltaFunction(name=use.get("name"), arguments=""),
        )
        out.append(self._chunk(Delta(tool_calls=[call])))

    def _block_delta(self, body: dict[str, Any], out: list[ChatCompletionChunk]) -> None:
        delta = body.get("delta") or {}
        if "text" in delta:
            if delta["text"]:
                out.append(self._chunk(Delta(content=delta["text"])))
        elif "toolUse" in delta:
            block = int(body.get("contentBlockIndex", -1))
            if block not in self._tools:
                raise UpstreamError("Bedrock streamed tool input for a block it never started")
            fragment = (delta["toolUse"] or {}).get("input") or ""
            if fragment:
                call = ToolCallDelta(index=self._tools[block], function=ToolCallDeltaFunction(arguments=fragment))
                out.append(self._chunk(Delta(tool_calls=[call])))
        # reasoningContent / citation deltas have no Chat Completions equivalent.

    @property
    def complete(self) -> bool:
        """messageStop is the end of the answer; metadata (usage) follows it."""
        return self.stopped


class StreamException(Exception):
    """An exception event inside a ConverseStream (when not raised by botocore)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
