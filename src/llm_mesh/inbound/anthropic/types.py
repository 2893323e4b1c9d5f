"""Anthropic Messages API request wire models (POST /v1/messages), inbound side.

Field names follow the Messages API reference and the official SDK's
``MessageCreateParams``. Unknown top-level fields (``thinking``, ``service_tier``,
``container``...) are accepted and ignored: the mesh cannot honour them on every
provider, and rejecting them would break SDK applications that set them by default.
Unknown *content block* types are rejected, because dropping user content silently
would change what the model sees.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


# ---------------------------------------------------------------- content blocks
class TextBlock(_Open):
    type: Literal["text"]
    text: str


class Base64Source(_Open):
    type: Literal["base64"]
    media_type: str
    data: str


class URLSource(_Open):
    type: Literal["url"]
    url: str


class TextSource(_Open):
    """A plain-text document source."""

    type: Literal["text"]
    media_type: str = "text/plain"
    data: str


class FileSource(_Open):
    """Files API reference: not translatable (the mesh has no access to Anthropic's file store)."""

    type: Literal["file"]
    file_id: str


ImageSource = Annotated[Union[Base64Source, URLSource, FileSource], Field(discriminator="type")]
DocumentSource = Annotated[Union[Base64Source, URLSource, TextSource, FileSource], Field(discriminator="type")]


class ImageBlock(_Open):
    type: Literal["image"]
    source: ImageSource


class DocumentBlock(_Open):
    type: Literal["document"]
    source: DocumentSource
    title: str | None = None
    context: str | None = None


class ToolUseBlock(_Open):
    type: Literal["tool_use"]
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    input: dict[str, Any]


ToolResultContent = Annotated[Union[TextBlock, ImageBlock, DocumentBlock], Field(discriminator="type")]


class ToolResultBlock(_Open):
    type: Literal["tool_result"]
    tool_use_id: str = Field(min_length=1)
    content: str | list[ToolResultContent] | None = None
    is_error: bool | None = None


class ThinkingBlock(_Open):
    type: Literal["thinking"]
    thinking: str
    signature: str | None = None


class RedactedThinkingBlock(_Open):
    type: Literal["redacted_thinking"]
    data: str


ContentBlock = Annotated[
    Union[TextBlock, ImageBlock, DocumentBlock, ToolUseBlock, ToolResultBlock, ThinkingBlock, RedactedThinkingBlock],
    Field(discriminator="type"),
]


class InputMessage(_Open):
    role: Literal["user", "assistant"]
    content: str | list[ContentBlock]


# ---------------------------------------------------------------- tools
class ToolDefinition(_Open):
    """A client (custom) tool. Server tools (web search, bash...) carry a versioned
    ``type`` such as ``web_search_20250305`` and are rejected by the translator."""

    name: str = Field(min_length=1, max_length=128)
    description: str | None = None
    input_schema: dict[str, Any] | None = None
    type: str | None = None


class ToolChoice(_Open):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: bool | None = None


class Metadata(_Open):
    user_id: str | None = None


class JSONOutputFormat(_Open):
    type: Literal["json_schema"]
    schema_: dict[str, Any] = Field(alias="schema")

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class OutputConfig(_Open):
    format: JSONOutputFormat | None = None
    effort: str | None = None


# ---------------------------------------------------------------- request
class AnthropicMessagesRequest(_Open):
    model: str = Field(min_length=1, max_length=256)
    messages: list[InputMessage] = Field(min_length=1)
    max_tokens: int = Field(ge=1, le=10_000_000)
    system: str | list[TextBlock] | None = None
    stop_sequences: list[str] | None = None
    temperature: float | None = Field(default=None, ge=0, le=1)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=0)
    tools: list[ToolDefinition] | None = None
    tool_choice: ToolChoice | None = None
    stream: bool | None = None
    metadata: Metadata | None = None
    output_config: OutputConfig | None = None
