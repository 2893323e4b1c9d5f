"""Request hooks: how capabilities (prompts, RAG, policy, cache, budgets, audit)
join the request path without touching the gateway core.

Each hook declares its stage (:mod:`llm_mesh.gateway.stages`); the pipeline
orders hooks by stage and checks the declarations when the runtime is built.
``before_*`` may rewrite the
request (render a prompt, inject retrieved context, redact PII) or answer it
outright (a cache hit) by returning a ChatCompletion; ``after_chat`` may change
the answer (restore placeholders, attach sources); ``wrap_stream`` wraps the
chunk iterator (output guardrails, restoring placeholders while streaming);
``on_complete`` sees the final outcome (ledger, budget settlement, audit). A hook
raising a MeshError fails the request with that error.

Hooks share state through the context's declared slots (``ctx.retrieval``,
``ctx.policy_state``, ``ctx.admission``, ``ctx.cost_usd``...), set response
headers through ``ctx.extra_headers`` and record value-free decisions for the
audit trail in ``ctx.decisions``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, AsyncIterator, Protocol

from llm_mesh.errors import MeshError
from llm_mesh.gateway.context import RequestContext
from llm_mesh.gateway.stages import Stage
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


@dataclass(frozen=True)
class HookContext:
    """What a hook factory is given by the composition root (``llm_mesh.runtime``)."""

    config: Any  # MeshConfig
    stores: Any  # StoreBundle
    secrets: Any  # SecretResolver
    home: str
    extras: dict[str, Any]  # collaborators the home provides (metrics sink, alert sink, embedder...)


class RequestHook(Protocol):
    name: str
    stage: Stage  # where before_* runs
    completes: Stage  # where on_complete runs: settle or observe

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

    def completion_waits(self, ctx: RequestContext) -> bool:
        """Whether ``on_complete`` for ``ctx`` would make a store call that can wait (a table
        round trip, a write lock); False when it only queues work for a background writer.
        Where the stores block, the service records a request off the event loop only then."""
        ...


class BaseHook:
    """No-op defaults: a hook overrides only the points it cares about."""

    name = "base"
    completes = Stage.OBSERVE  # a subclass declares ``stage`` itself: there is no sensible default

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

    def completion_waits(self, ctx: RequestContext) -> bool:
        # a hook that accounts for requests may write anywhere: it says otherwise by overriding this
        return type(self).on_complete is not BaseHook.on_complete
