"""The ``gemini`` provider: Gemini API (API key) or Vertex AI (service account). I/O only."""

from __future__ import annotations

from typing import Any, AsyncIterator
from urllib.parse import quote

from llm_mesh.errors import InvalidRequest, MeshError, UpstreamError
from llm_mesh.providers.base import Capabilities, SecretResolver
from llm_mesh.providers.common.http_provider import api_key_client, close_stream
from llm_mesh.providers.gemini import translate_openai_gemini as wire
from llm_mesh.providers.gemini.auth import ServiceAccountTokenSource
from llm_mesh.providers.gemini.capabilities import model_capabilities
from llm_mesh.providers.gemini.errors import classify, google_error, stream_error
from llm_mesh.providers.gemini.options import GeminiOptions
from llm_mesh.providers.http_base import iter_lines, open_stream, parse_event, post_json
from llm_mesh.providers.sse import iter_sse
from llm_mesh.tokens import count_text
from llm_mesh.wire.openai_chat import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest, EmbeddingsResponse

GEMINI_API_BASE_URL = "https://generativelanguage.googleapis.com"


def vertex_base_url(location: str) -> str:
    return "https://aiplatform.googleapis.com" if location == "global" else f"https://{location}-aiplatform.googleapis.com"


class GeminiProvider:
    kind = "gemini"

    def __init__(self, name: str, config: Any, secrets: SecretResolver) -> None:
        self.name = name
        self._options = GeminiOptions.model_validate(config.options)
        self._classify = classify(name)
        self._tokens: ServiceAccountTokenSource | None = None
        if self._options.platform == "vertex":
            if config.api_key is None:
                raise UpstreamError(f"provider {name}: Vertex needs api_key pointing at a service-account JSON",
                                    code="upstream_auth_failed")
            self._tokens = ServiceAccountTokenSource(name, secrets.resolve(config.api_key))
            project = self._options.project or self._tokens.project_id
            if not project:
                raise UpstreamError(f"provider {name}: no Vertex project (set options.project)")
            self._prefix = (
                f"/{self._options.version}/projects/{quote(project, safe='')}"
                f"/locations/{self._options.location}/publishers/google/models/"
            )
            # A token minted from the service account rides on each request: no key on the client.
            base_url, key_header = vertex_base_url(self._options.location), None
        else:
            self._prefix = f"/{self._options.version}/models/"
            base_url, key_header = GEMINI_API_BASE_URL, "x-goog-api-key"
        self._client = api_key_client(name, config, secrets, base_url, key_header=key_header)
        self._safety = [s.model_dump() for s in self._options.safety_settings or []] or None

    # ------------------------------------------------------------ plumbing
    def _path(self, model: str, method: str) -> str:
        if not model or "/" in model or ".." in model or ":" in model:
            raise InvalidRequest(f"invalid Gemini model name {model!r}")
        return f"{self._prefix}{quote(model, safe='.-_@')}:{method}"

    async def _headers(self) -> dict[str, str] | None:
        if self._tokens is None:
            return None
        return {"Authorization": f"Bearer {await self._tokens.token()}"}

    async def _post(self, path: str, body: Any) -> Any:
        headers = await self._headers()
        try:
            return await post_json(self._client, self.name, path, body, headers=headers, classify=self._classify)
        except MeshError as exc:
            if exc.code == "upstream_auth_failed" and self._tokens is not None:
                self._tokens.invalidate()  # a revoked or expired token: mint a fresh one next time
            raise

    def capabilities(self, model: str) -> Capabilities:
        return model_capabilities(model, self._options.context_window)

    # ------------------------------------------------------------ chat
    async def chat(self, request: ChatCompletionRequest) -> ChatCompletion:
        body = wire.chat_request_body(request, self._safety)
        data = await self._post(self._path(request.model, "generateContent"), body)
        return wire.chat_response(data, request.model)

    async def chat_stream(self, request: ChatCompletionRequest) -> AsyncIterator[ChatCompletionChunk]:
        body = wire.chat_request_body(request, self._safety)
        path = self._path(request.model, "streamGenerateContent") + "?alt=sse"
        translator = wire.StreamTranslator(model=request.model, choices=request.n or 1)
        headers = await self._headers()
        async with open_stream(self._client, self.name, path, body, headers=headers, classify=self._classify) as response:
            lines = iter_lines(self.name, response, started=lambda: translator.id is not None)
            async for event in iter_sse(lines):
                payload = parse_event(self.name, event.data)
                error = google_error(payload)
                if error is not None:
                    raise stream_error(self.name, error)
                if not isinstance(payload, dict):
                    raise UpstreamError(f"provider {self.name} sent a malformed stream event")
                for chunk in translator.feed(payload):
                    yield chunk
            for chunk in close_stream(self.name, translator.close):
                yield chunk

    # ------------------------------------------------------------ embeddings
    async def embed(self, request: EmbeddingsRequest) -> EmbeddingsResponse:
        task = self._options.embedding_task_type
        if self._tokens is not None:
            body: Any = wire.vertex_predict_request(request, task)
            data = await self._post(self._path(request.model, "predict"), body)
            return wire.vertex_predict_response(data, request.model)
        body = wire.batch_embed_request(request, request.model, task)
        data = await self._post(self._path(request.model, "batchEmbedContents"), body)
        # batchEmbedContents reports no token usage: estimate it for metering.
        tokens = sum(count_text(text) for text in request.texts())
        return wire.batch_embed_response(data, request.model, tokens)

    async def aclose(self) -> None:
        await self._client.aclose()
