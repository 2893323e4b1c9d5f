"""No-code RAG: the request hook behind ``knowledge_base: NAME`` on a route.

Enrich stage, after the service authorised the route: check the app may read
the knowledge base (403 otherwise), retrieve the top-k chunks for the last user
message, and inject them through the knowledge base's template as a system
message placed after the app's own system messages. ``ctx.retrieval`` names the
knowledge base and the injected message's index, so the screen stage applies
the knowledge base's bound policy and injection screening to exactly that text.

After the call: the sources (ids, titles, scores) ride on the answer as an
extension field ``sources`` (on the completion, or on the first chunk of a
stream) and as the compact header ``x-mesh-sources: id=score,...``.
"""

from __future__ import annotations

from typing import Any, AsyncIterator

from llm_mesh.gateway.context import RequestContext, Retrieval
from llm_mesh.gateway.hooks import BaseHook
from llm_mesh.gateway.stages import Stage
from llm_mesh.kb.base import KnowledgeBases
from llm_mesh.wire.openai_chat import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, SystemMessage


def last_user_text(request: ChatCompletionRequest) -> str:
    for message in reversed(request.messages):
        if message.role != "user":
            continue
        content = message.content
        if isinstance(content, str):
            return content
        return " ".join(getattr(part, "text", "") or "" for part in content if getattr(part, "type", "") == "text")
    return ""


def compact_sources(sources: list[dict[str, Any]]) -> str:
    return ",".join(f"{s['id']}={s['score']:.3f}" for s in sources)


class RagHook(BaseHook):
    name = "rag"
    stage = Stage.ENRICH

    def __init__(self, config: Any, knowledge_bases: KnowledgeBases) -> None:
        self.config = config
        self.knowledge_bases = knowledge_bases
        self.routes = {name: route.knowledge_base for name, route in config.routes.items() if getattr(route, "knowledge_base", None)}

    async def before_chat(self, ctx: RequestContext, request: ChatCompletionRequest) -> ChatCompletionRequest | ChatCompletion:
        kb_name = self.routes.get(ctx.route)
        if kb_name is None or ctx.caller is None:
            return request
        kb = self.knowledge_bases.for_reader(kb_name, ctx.caller.app)
        query = last_user_text(request)
        hits = await kb.search(query) if query else []
        sources = [hit.summary() for hit in hits]
        ctx.decisions["rag"] = {"knowledge_base": kb_name, "sources": sources}  # the audit record's copy
        ctx.extra_headers["x-mesh-sources"] = compact_sources(sources)
        if not hits:
            ctx.retrieval = Retrieval(knowledge_bases=(kb_name,), message_indexes=(), sources=sources)
            return request
        injected = SystemMessage(role="system", content=kb.config.template.replace("{context}", kb.context(hits)))
        messages = list(request.messages)
        at = 0
        while at < len(messages) and messages[at].role in ("system", "developer"):
            at += 1
        messages.insert(at, injected)
        ctx.retrieval = Retrieval(knowledge_bases=(kb_name,), message_indexes=(at,), sources=sources)
        return request.model_copy(update={"messages": messages})

    async def after_chat(self, ctx: RequestContext, request: ChatCompletionRequest, completion: ChatCompletion) -> ChatCompletion:
        if ctx.retrieval is not None:
            completion = completion.model_copy()
            setattr(completion, "sources", ctx.retrieval.sources)
        return completion

    def wrap_stream(self, ctx: RequestContext, request: ChatCompletionRequest, chunks: AsyncIterator[ChatCompletionChunk]) -> AsyncIterator[ChatCompletionChunk]:
        retrieval = ctx.retrieval
        if retrieval is None:
            return chunks

        async def with_sources() -> AsyncIterator[ChatCompletionChunk]:
            first = True
            async for chunk in chunks:
                if first:
                    chunk = chunk.model_copy()
                    setattr(chunk, "sources", retrieval.sources)
                    first = False
                yield chunk

        return with_sources()


def build_rag_hook(context: Any) -> RagHook | None:
    """HOOK_FACTORIES entry: None when no knowledge base is declared. The hook also carries the
    registry the HTTP API (``/v1/mesh/kb``) and the CLI use, so there is one per runtime."""
    if not (getattr(context.config, "knowledge_bases", None) or {}):
        return None
    return RagHook(context.config, knowledge_bases_for(context))


def find_rag_hook(service: Any) -> RagHook | None:
    for hook in getattr(service, "hooks", ()):
        if isinstance(hook, RagHook):
            return hook
    return None


def knowledge_bases_for(context: Any) -> KnowledgeBases:
    """One registry per runtime, shared by the hook and the HTTP API (kept in ``extras``)."""
    from llm_mesh.kb.base import default_data_dir, document_store_for

    registry = context.extras.get("knowledge_bases")
    if registry is None:
        config = context.config
        registry = KnowledgeBases(
            dict(getattr(config, "knowledge_bases", None) or {}),
            data_dir=context.extras.get("data_dir") or default_data_dir(context.stores),
            documents=document_store_for(context.stores),
            transports=context.extras.get("kb_transports"),
            embedders=context.extras.get("kb_embedders"),
        )
        context.extras["knowledge_bases"] = registry
    return registry
