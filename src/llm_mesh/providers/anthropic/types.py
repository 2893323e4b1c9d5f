"""Anthropic Messages API wire types (outbound side), as TypedDicts.

Field names follow the Messages API reference and the official SDK's
``anthropic.types`` (MessageCreateParams, Message, Usage, the Raw*Event stream events).
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from typing_extensions import NotRequired


class TextBlock(TypedDict):
    type: Literal["text"]
    text: str


class Base64Source(TypedDict):
    type: Literal["base64"]
    media_type: str
    data: str


class URLSource(TypedDict):
    type: Literal["url"]
    url: str


class ImageBlock(TypedDict):
    type: Literal["image"]
    source: Base64Source | URLSource


class DocumentBlock(TypedDict):
    type: Literal["document"]
    source: Base64Source | URLSource
    title: NotRequired[str]


class ToolUseBlock(TypedDict):
    type: Literal["tool_use"]
    id: str
    name: str
    input: dict[str, Any]


class ToolResultBlock(TypedDict):
    type: Literal["tool_result"]
    tool_use_id: str
    content: NotRequired[str | list[TextBlock | ImageBlock]]
    is_error: NotRequired[bool]


class MessageParam(TypedDict):
    role: Literal["user", "assistant"]
    content: list[dict[str, Any]]


class ToolParam(TypedDict):
    name: str
    input_schema: dict[str, Any]
    description: NotRequired[str]
    strict: NotRequired[bool]


class ToolChoice(TypedDict):
    type: Literal["auto", "any", "tool", "none"]
    name: NotRequired[str]
    disable_parallel_tool_use: NotRequired[bool]


class MessagesRequest(TypedDict):
    model: str
    messages: list[MessageParam]
    max_tokens: int
    system: NotRequired[list[TextBlock]]
    stop_sequences: NotRequired[list[str]]
    temperature: NotRequired[float]
    top_p: NotRequired[float]
    tools: NotRequired[list[ToolParam]]
    tool_choice: NotRequired[ToolChoice]
    metadata: NotRequired[dict[str, str]]
    output_config: NotRequired[dict[str, Any]]
    stream: NotRequired[bool]


class Usage(TypedDict):
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: NotRequired[int | None]
    cache_read_input_tokens: NotRequired[int | None]


StopReason = Literal[
    "end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal", "model_context_window_exceeded"
]


class Message(TypedDict):
    id: str
    type: Literal["message"]
    role: Literal["assistant"]
    model: str
    content: list[dict[str, Any]]
    stop_reason: StopReason | None
    stop_sequence: str | None
    usage: Usage


# Stream event names (the SSE ``event:`` field equals the payload's ``type``).
STREAM_EVENTS = (
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
    "ping",
    "error",
)
