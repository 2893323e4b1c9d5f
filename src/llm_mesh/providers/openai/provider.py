"""The ``openai`` provider: any OpenAI-compatible endpoint by base_url."""

from __future__ import annotations

from typing import Any, AsyncIterator

import httpx
from pydantic import ValidationError

from llm_mesh.errors import UpstreamError
from llm_mesh.providers.base import Capabilities, SecretResolver
from llm_mesh.providers.common.http_provider import api_key_client
from llm_mesh.providers.http_base import post_json
from llm_mesh.providers.openai import translate_openai_openai as wire
from llm_mesh.providers.openai import translate_openai_responses as responses_wire
from llm_mesh.providers.openai.options import OpenAIOptions
from llm_mesh.providers.openai.responses_stream import ResponsesStreamReader
from llm_mesh.providers.openai_compat import stream_chunks
from llm_mesh.wire.openai_chat import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest, EmbeddingsResponse

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class OpenAIProvider:
    kind = "openai"

    def __init__(self, name: str, config: Any, secrets: SecretResolver) -> None:
        self.name = name
        self._options = OpenAIOptions.model_validate(config.options)
        headers: dict[str, str] = {}
        if self._options.organization:
            headers["OpenAI-Organization"] = self._options.organization
        if self._options.project:
            headers["OpenAI-Project"] = self._options.project
        base_url = config.base_url or DEFAULT_BASE_URL
        self._client = api_key_client(name, config, secrets, base_url, extra_headers=headers)
        # Absolute URLs parsed once: httpx re-parses a relative path on every request.
        self._chat_url = httpx.URL(base_url + "/chat/completions")
        self._embeddings_url = httpx.URL(base_url + "/embeddings")
        self._responses_url = httpx.URL(base_url + "/responses")
        # The service sends /v1/responses requests through responses_chat(_stream) when True.
        self.speaks_responses = self._options.responses == "native"

    def capabilities(self, model: str) -> Capabilities:
        return Capabilities(embeddings=True, context_window=self._options.context_window)

    async def chat(self, request: ChatCompletionRequest) -> ChatCompletion:
        data = await post_json(self._client, self.name, self._chat_url, wire.chat_request_body(request, stream=False))
        try:
            return wire.chat_response(data)
        except ValidationError:
            raise UpstreamError(f"provider {self.name} returned a malformed chat completion") from None

    def chat_stream(self, request: ChatCompletionRequest) -> AsyncIterator[ChatCompletionChunk]:
        # The shared loop's generator is returned as is: no extra async-generator hop per chunk.
        return stream_chunks(
            self._client, self.name, self._chat_url, wire.chat_request_body(request, stream=True), self._feed
        )

    def _feed(self, payload: Any) -> tuple[ChatCompletionChunk]:
        if isinstance(payload, dict) and "error" in payload:
            raise UpstreamError(f"provider {self.name} reported an error mid-stream")
        return (wire.chat_chunk(payload),)

    async def responses_chat(self, request: ChatCompletionRequest, settings: dict[str, Any]) -> ChatCompletion:
        """The screened request to the upstream's own ``/v1/responses`` (``options.responses: native``)."""
        body = responses_wire.responses_body(request, settings, stream=False)
        data = await post_json(self._client, self.name, self._responses_url, body)
        try:
            return responses_wire.chat_response(data, request.model)
        except (ValueError, TypeError, AttributeError):
            raise UpstreamError(f"provider {self.name} returned a malformed response") from None

    def responses_chat_stream(self, request: ChatCompletionRequest, settings: dict[str, Any]) -> AsyncIterator[ChatCompletionChunk]:
        reader = ResponsesStreamReader(self.name, request.model)
        body = responses_wire.responses_body(request, settings, stream=True)
        return stream_chunks(self._client, self.name, self._responses_url, body, reader.feed,
                             finished=lambda: reader.done)

    async def embed(self, request: EmbeddingsRequest) -> EmbeddingsResponse:
        body = wire.embeddings_request_body(request, send_dimensions=self._options.embedding_dimensions)
        data = await post_json(self._client, self.name, self._embeddings_url, body)
        try:
            return wire.embeddings_response(data)
        except ValidationError:
            raise UpstreamError(f"provider {self.name} returned malformed embeddings") from None

    async def aclose(self) -> None:
        await self._client.aclose()
