"""Request hooks: how capabilities (prompts, RAG, policy, cache, budgets, audit)
join the request path without touching the gateway core.

Hooks run in the order the runtime lists them. ``before_*`` may rewrite the
request (render a prompt, inject retrieved context, redact PII) or answer it
outright (a cache hit) by returning a ChatCompletion; ``after_chat`` may change
the answer (restore placeholders, attach sources); ``wrap_stream`` wraps the
chunk iterator (output guardrails, restoring placeholders while streaming);
``on_complete`` sees the final outcome (ledger, budget settlement, audit). A hook
raising a MeshError fails the request with that error.

Hooks set response headers through ``ctx.extra_headers`` and record their
decisions for the audit trail in ``ctx.decisions``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import AsyncIterator, Protocol

from llm_mesh.errors import MeshError
from llm_mesh.gateway.context import RequestContext
from llm_mesh.wire.openai_chat import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, Usage
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest


@dataclass(frozen=True)
class Outcome:
    """What happened to a request, as the hooks' ``on_complete`` sees it."""

    status: int
    usage: Usage | None = None
    error: MeshError | None = None
    completion: ChatCompletion | None = None  # non-streamed chat answers
    served_from_cache: bool = False


class RequestHook(Protocol):
    name: str

    async def before_chat(
        self, ctx: RequestContext, request: ChatCompletionRequest
    ) -> ChatCompletionRequest | ChatCompletion: ...

    async def after_chat(
        self, ctx: RequestContext, request: ChatCompletionRequest, completion: ChatCompletion
    ) -> ChatCompletion: ...

    def wrap_stream(
        self, ctx: RequestContext, request: ChatCompletionRequest, chunks: AsyncIterator[ChatCompletionChunk]
    ) -> AsyncIterator[ChatCompletionChunk]: ...

    async def before_embeddings(self, ctx: RequestContext, request: EmbeddingsRequest) -> EmbeddingsRequest: ...

    def on_complete(self, ctx: RequestContext, outcome: Outcome) -> None: ...


class BaseHook:
    """No-op defaults: a hook overrides only the points it cares about."""

    name = "base"

    async def before_chat(
        self, ctx: RequestContext, request: ChatCompletionRequest
    ) -> ChatCompletionRequest | ChatCompletion:
        return request

    async def after_chat(
        self, ctx: RequestContext, request: ChatCompletionRequest, completion: ChatCompletion
    ) -> ChatCompletion:
        return completion

    def wrap_stream(
        self, ctx: RequestContext, request: ChatCompletionRequest, chunks: AsyncIterator[ChatCompletionChunk]
    ) -> AsyncIterator[ChatCompletionChunk]:
        return chunks

    async def before_embeddings(self, ctx: RequestContext, request: EmbeddingsRequest) -> EmbeddingsRequest:
        return request

    def on_complete(self, ctx: RequestContext, outcome: Outcome) -> None:
        return None
