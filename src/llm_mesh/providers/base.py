"""The one small interface every provider implements.

Providers receive the canonical (OpenAI-shaped) request with ``model`` already set
to the upstream model name, and return canonical responses. Translation to and
from the provider's own wire format lives in the provider's folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import AsyncIterator, Protocol, runtime_checkable

from llm_mesh.wire.openai_chat import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest, EmbeddingsResponse


@dataclass(frozen=True)
class Capabilities:
    chat: bool = True
    streaming: bool = True
    tools: bool = True
    vision: bool = True
    json_schema: bool = True
    embeddings: bool = False
    context_window: int | None = None


@runtime_checkable
class Provider(Protocol):
    name: str
    kind: str

    def capabilities(self, model: str) -> Capabilities: ...

    async def chat(self, request: ChatCompletionRequest) -> ChatCompletion: ...

    def chat_stream(self, request: ChatCompletionRequest) -> AsyncIterator[ChatCompletionChunk]:
        """Yield chunks; raise an UpstreamError subclass if the stream fails or is cut."""
        ...

    async def embed(self, request: EmbeddingsRequest) -> EmbeddingsResponse: ...

    async def aclose(self) -> None: ...


class SecretResolver(Protocol):
    """Turns a credential reference from the config into its value (never logged)."""

    def resolve(self, ref: "SecretRefLike") -> str: ...


class SecretRefLike(Protocol):
    env: str | None
    secret: str | None
    field: str | None
