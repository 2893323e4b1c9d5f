"""Bedrock Runtime wire types (the boto3 parameter and result shapes used here).

Field names follow the botocore service model ``bedrock-runtime`` 2023-09-30.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

ConverseStopReason = Literal[
    "end_turn",
    "tool_use",
    "max_tokens",
    "stop_sequence",
    "guardrail_intervened",
    "content_filtered",
    "malformed_model_output",
    "malformed_tool_use",
    "model_context_window_exceeded",
]


class ImageSource(TypedDict):
    bytes: bytes


class ImageBlock(TypedDict):
    format: Literal["png", "jpeg", "gif", "webp"]
    source: ImageSource


class ToolUseBlock(TypedDict):
    toolUseId: str
    name: str
    input: Any


class ToolResultBlock(TypedDict, total=False):
    toolUseId: str
    content: list[dict[str, Any]]
    status: Literal["success", "error"]


class ContentBlock(TypedDict, total=False):
    text: str
    image: ImageBlock
    toolUse: ToolUseBlock
    toolResult: ToolResultBlock


class Message(TypedDict):
    role: Literal["user", "assistant"]
    content: list[ContentBlock]


class InferenceConfiguration(TypedDict, total=False):
    maxTokens: int
    temperature: float
    topP: float
    stopSequences: list[str]


class ToolSpecification(TypedDict, total=False):
    name: str
    description: str
    inputSchema: dict[str, Any]  # {"json": <JSON schema>}


class ToolConfiguration(TypedDict, total=False):
    tools: list[dict[str, ToolSpecification]]
    toolChoice: dict[str, Any]  # {"auto": {}} | {"any": {}} | {"tool": {"name": ...}}


class TokenUsage(TypedDict, total=False):
    inputTokens: int
    outputTokens: int
    totalTokens: int
    cacheReadInputTokens: int
    cacheWriteInputTokens: int


class ConverseResponse(TypedDict, total=False):
    output: dict[str, Message]
    stopReason: ConverseStopReason
    usage: TokenUsage
    metrics: dict[str, int]


# ConverseStream event names (members of the ConverseStreamOutput union).
STREAM_EXCEPTION_EVENTS = (
    "internalServerException",
    "modelStreamErrorException",
    "validationException",
    "throttlingException",
    "serviceUnavailableException",
)
