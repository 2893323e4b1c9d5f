"""Embeddings through a route of the mesh: the gateway's routing, failover and request log.

The knowledge base, not an app, is the caller: it appears in the request log as
app ``kb:<name>``, so embedding spend is metered per knowledge base.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from llm_mesh.gateway.context import RequestContext
from llm_mesh.identity import Caller
from llm_mesh.routing.requirements import Requirements
from llm_mesh.wire.openai_chat import Usage
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest


class RouteEmbedder:
    name = "route"

    def __init__(self, route: str, service: Any | Callable[[], Any], owner: str = "kb", batch_size: int = 128) -> None:
        self.route = route
        self._service = service
        self.owner = owner
        self.batch_size = batch_size
        self.dimensions: int | None = None

    def _resolve(self) -> Any:
        service = self._service() if callable(self._service) and not hasattr(self._service, "providers") else self._service
        if service is None:
            raise RuntimeError("the route embedder is not bound to a running mesh service")
        return service

    async def _embed_batch(self, service: Any, texts: list[str]) -> list[list[float]]:
        ctx = RequestContext(endpoint="kb.embeddings")
        ctx.caller = Caller(app=f"kb:{self.owner}", principal=f"kb:{self.owner}")
        ctx.route = self.route
        request = EmbeddingsRequest(model=self.route, input=texts)

        async def call(attempt: Any) -> Any:
            provider = service.providers.get(attempt.provider)
            return await provider.embed(request.model_copy(update={"model": attempt.model}))

        try:
            response = await service._with_failover(ctx, service._facts(ctx, Requirements(embeddings=True)), call)
        except Exception as error:
            await service.finish(ctx, getattr(error, "status", 500), error=error if hasattr(error, "to_body") else None)
            raise
        await service.finish(ctx, 200, Usage(prompt_tokens=response.usage.prompt_tokens, total_tokens=response.usage.total_tokens))
        vectors = [list(map(float, item.embedding)) for item in sorted(response.data, key=lambda d: d.index)]
        if vectors:
            self.dimensions = len(vectors[0])
        return vectors

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        service = self._resolve()
        out: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            out.extend(await self._embed_batch(service, list(texts[start : start + self.batch_size])))
        return out
