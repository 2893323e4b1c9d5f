"""``POST /v1/mesh/kb/{name}/search``: retrieval alone, for apps allowed to read the knowledge base.

Body: ``{"query": "...", "top_k": 4, "filter": {"source": "docs/faq.md"}}``.
Answer: ``{"object": "list", "knowledge_base": NAME, "data": [{id, title, source, score, text}]}``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from llm_mesh.errors import InvalidRequest, MeshError, NotFound
from llm_mesh.gateway.context import RequestContext
from llm_mesh.http.app import error_response
from llm_mesh.http.body import read_json
from llm_mesh.http.identity import inbound_identity
from llm_mesh.kb.base import validate_query
from llm_mesh.kb.rag import compact_sources, find_rag_hook
from llm_mesh.runtime import MeshRuntime


def mount(app: FastAPI, runtime: MeshRuntime) -> None:
    hook = find_rag_hook(runtime.service)
    if hook is not None:
        hook.knowledge_bases.bind_service(runtime.service)
    limit = runtime.config.server.max_body_bytes

    @app.post("/v1/mesh/kb/{name}/search")
    async def kb_search(name: str, request: Request) -> Response:
        ctx = RequestContext(endpoint="kb.search")
        try:
            caller = runtime.service.authenticate(ctx, inbound_identity(request, runtime.home))
            if hook is None:
                raise NotFound(f"no knowledge base named {name!r}", code="knowledge_base_not_found")
            kb = hook.knowledge_bases.for_reader(name, caller.app)
            body = await read_json(request, limit)
            if not isinstance(body, dict):
                raise InvalidRequest("the body must be a JSON object")
            query = validate_query(body.get("query"))
            top_k = body.get("top_k")
            if top_k is not None and (not isinstance(top_k, int) or not 1 <= top_k <= 100):
                raise InvalidRequest("top_k must be an integer from 1 to 100", param="top_k")
            filter = body.get("filter")
            if filter is not None and not isinstance(filter, dict):
                raise InvalidRequest("filter must be an object of field -> value", param="filter")
            hits = await kb.search(query, top_k, filter)
        except MeshError as error:
            return error_response(error, ctx)
        data = [{**hit.summary(), "text": hit.chunk.text, "position": hit.chunk.position} for hit in hits]
        ctx.extra_headers["x-mesh-sources"] = compact_sources(data)
        return JSONResponse({"object": "list", "knowledge_base": name, "data": data}, headers=ctx.response_headers())
