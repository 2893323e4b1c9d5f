"""The ``cohere`` provider: Cohere v2 chat (with SSE streaming) and embed. I/O only."""

from __future__ import annotations

from typing import Any, AsyncIterator

from llm_mesh.errors import UpstreamError
from llm_mesh.providers.base import Capabilities, SecretResolver
from llm_mesh.providers.cohere import translate_openai_cohere as wire
from llm_mesh.providers.cohere.capabilities import model_capabilities
from llm_mesh.providers.cohere.errors import classify
from llm_mesh.providers.cohere.options import CohereOptions
from llm_mesh.providers.common.http_provider import api_key_client, close_stream
from llm_mesh.providers.http_base import iter_lines, open_stream, parse_event, post_json
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
        self._client = api_key_client(name, config, secrets, DEFAULT_BASE_URL)

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
            lines = iter_lines(self.name, response, started=lambda: translator.id is not None)
            async for event in iter_sse(lines):
                if event.data.strip() == "[DONE]":
                    break
                payload = parse_event(self.name, event.data)
                if not isinstance(payload, dict):
                    raise UpstreamError(f"provider {self.name} sent a malformed stream event")
                payload.setdefault("type", event.event)
                for chunk in translator.feed(payload):
                    yield chunk
            for chunk in close_stream(self.name, translator.close):
                yield chunk

    async def embed(self, request: EmbeddingsRequest) -> EmbeddingsResponse:
        body = wire.embed_request_body(request, self._options.embedding_input_type)
        data = await post_json(self._client, self.name, "/v2/embed", body, classify=self._classify)
        return wire.embed_response(data, request.model)

    async def aclose(self) -> None:
        await self._client.aclose()
