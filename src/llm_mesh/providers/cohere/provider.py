"""The ``cohere`` provider: Cohere v2 chat (with SSE streaming) and embed. I/O only."""

from __future__ import annotations

import json
from typing import Any, AsyncIterator

import httpx

from llm_mesh.errors import UpstreamError
from llm_mesh.providers.base import Capabilities, SecretResolver
from llm_mesh.providers.cohere import translate_openai_cohere as wire
from llm_mesh.providers.cohere.capabilities import model_capabilities
from llm_mesh.providers.cohere.errors import classify
from llm_mesh.providers.cohere.options import CohereOptions
from llm_mesh.providers.http_base import build_client, open_stream, post_json, transport_error
from llm_mesh.providers.sse import iter_sse
from llm_mesh.wire.openai_chat import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest, EmbeddingsResponse

DEFAULT_BASE_URL = "https://api.cohere.com"


class CohereProvider:
    kind = "cohere"

    def __init__(self, name: str, config: Any, secrets: SecretResolver) -> None:
        self.name = name
        self._options = CohereOptions.model_validate(config.options)
        self._classify = classify(name)
        headers = dict(config.headers)
        if config.api_key is not None:
            headers["Authorization"] = f"Bearer {secrets.resolve(config.api_key)}"
        self._client = build_client(config.base_url or DEFAULT_BASE_URL, config.timeouts, config.max_connections, headers)

    def capabilities(self, model: str) -> Capabilities:
        return model_capabilities(model, self._options.context_window)

    async def chat(self, request: ChatCompletionRequest) -> ChatCompletion:
        body = wire.chat_request_body(request, stream=False, safety_mode=self._options.safety_mode)
        data = await post_json(self._client, self.name, "/v2/chat", body, classify=self._classify)
        return wire.chat_response(data, request.model)

    async def chat_stream(self, request: ChatCompletionRequest) -> AsyncIterator[ChatCompletionChunk]:
        body = wire.chat_request_body(request, stream=True, safety_mode=self._options.safety_mode)
        translator = wire.StreamTranslator(model=request.model)
        headers = {"Accept": "text/event-stream"}
        async with open_stream(self._client, self.name, "/v2/chat", body, headers=headers, classify=self._classify) as response:
            async for event in iter_sse(self._lines(response, translator)):
                if event.data.strip() == "[DONE]":
                    break
                try:
                    payload = json.loads(event.data)
                except ValueError:
                    raise UpstreamError(f"provider {self.name} sent a malformed stream event") from None
                if not isinstance(payload, dict):
                    raise UpstreamError(f"provider {self.name} sent a malformed stream event")
                payload.setdefault("type", event.event)
                for chunk in translator.feed(payload):
                    yield chunk
            try:
                tail = translator.close()
            except UpstreamError:
                raise UpstreamError(f"provider {self.name} ended the stream before it completed",
                                    code="stream_cut") from None
            for chunk in tail:
                yield chunk

    async def _lines(self, response: httpx.Response, translator: wire.StreamTranslator) -> AsyncIterator[str]:
        try:
            async for line in response.aiter_lines():
                yield line
        except httpx.HTTPError as exc:
            if translator.id is not None:  # the connection broke after the stream had started
                raise UpstreamError(f"provider {self.name} ended the stream before it completed",
                                    code="stream_cut") from None
            raise transport_error(self.name, exc) from None

    async def embed(self, request: EmbeddingsRequest) -> EmbeddingsResponse:
        body = wire.embed_request_body(request, self._options.embedding_input_type)
        data = await post_json(self._client, self.name, "/v2/embed", body, classify=self._classify)
        return wire.embed_response(data, request.model)

    async def aclose(self) -> None:
        await self._client.aclose()
