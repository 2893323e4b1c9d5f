"""Cohere v2 wire types (POST /v2/chat, /v2/embed), as TypedDicts.

Reference: docs.cohere.com/reference/chat, /reference/chat-stream, /reference/embed and
the generated types of the cohere-python SDK.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict, Union


class TextContent(TypedDict):
    type: Literal["text"]
    text: str


class ImageUrl(TypedDict, total=False):
    url: str
    detail: Literal["auto", "low", "high"]


class ImageContent(TypedDict):
    type: Literal["image_url"]
    image_url: ImageUrl


class ToolCallFunction(TypedDict):
    name: str
    arguments: str  # JSON text


class ToolCall(TypedDict):
    id: str
    type: Literal["function"]
    function: ToolCallFunction


class SystemMessage(TypedDict):
    role: Literal["system"]
    content: str


class UserMessage(TypedDict):
    role: Literal["user"]
    content: Union[str, list[Union[TextContent, ImageContent]]]


class AssistantMessage(TypedDict, total=False):
    role: Literal["assistant"]
    content: str
    tool_plan: str
    tool_calls: list[ToolCall]


class ToolMessage(TypedDict):
    role: Literal["tool"]
    tool_call_id: str
    content: str


Message = Union[SystemMessage, UserMessage, AssistantMessage, ToolMessage]


class ToolFunction(TypedDict, total=False):
    name: str
    description: str
    parameters: dict[str, Any]


class Tool(TypedDict):
    type: Literal["function"]
    function: ToolFunction


class ResponseFormat(TypedDict, total=False):
    type: Literal["text", "json_object"]
    json_schema: dict[str, Any]


class ChatRequest(TypedDict, total=False):
    model: str
    messages: list[Message]
    tools: list[Tool]
    strict_tools: bool
    tool_choice: Literal["REQUIRED", "NONE"]
    response_format: ResponseFormat
    safety_mode: Literal["CONTEXTUAL", "STRICT", "OFF"]
    max_tokens: int
    stop_sequences: list[str]
    temperature: float
    seed: int
    frequency_penalty: float
    presence_penalty: float
    p: float
    logprobs: bool
    stream: bool


class UsageUnits(TypedDict, total=False):
    input_tokens: float
    output_tokens: float


class Usage(TypedDict, total=False):
    billed_units: UsageUnits
    tokens: UsageUnits
    cached_tokens: float


# finish_reason: COMPLETE | STOP_SEQUENCE | MAX_TOKENS | TOOL_CALL | ERROR | TIMEOUT
class ChatResponse(TypedDict, total=False):
    id: str
    finish_reason: str
    message: dict[str, Any]  # role, content[] (text/thinking), tool_plan, tool_calls[], citations[]
    usage: Usage


# Stream events (SSE, ``event:`` named, ``data:`` JSON with the same ``type``; ends with ``data: [DONE]``):
# message-start {id, delta.message{role, content[], tool_plan, tool_calls[], citations[]}}
# content-start {index, delta.message.content{type, text}}   content-delta {index, delta.message.content.text}
# content-end {index}   tool-plan-delta {delta.message.tool_plan}
# tool-call-start {index, delta.message.tool_calls{id, type, function{name, arguments}}}
# tool-call-delta {index, delta.message.tool_calls.function.arguments}   tool-call-end {index}
# citation-start / citation-end   message-end {delta{finish_reason, usage, error?}}
StreamEvent = dict[str, Any]


class EmbedRequest(TypedDict, total=False):
    model: str
    texts: list[str]
    input_type: str
    embedding_types: list[str]
    output_dimension: int


class EmbedResponse(TypedDict, total=False):
    id: str
    embeddings: dict[str, list[list[float]]]  # {"float": [[...], ...]}
    texts: list[str]
    meta: dict[str, Any]  # {api_version, billed_units{input_tokens}}
