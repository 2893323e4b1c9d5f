"""The ``anthropic`` provider: Anthropic's Messages API (POST /v1/messages). I/O only."""

from __future__ import annotations

import json
from typing import Any, AsyncIterator

from llm_mesh.errors import InvalidRequest, UpstreamError
from llm_mesh.providers.anthropic import translate_openai_anthropic as wire
from llm_mesh.providers.anthropic.capabilities import capabilities_for
from llm_mesh.providers.anthropic.errors import make_classifier, stream_error
from llm_mesh.providers.anthropic.options import AnthropicOptions
from llm_mesh.providers.base import Capabilities, SecretResolver
from llm_mesh.providers.http_base import build_client, iter_lines, open_stream, post_json
from llm_mesh.providers.sse import iter_sse
from llm_mesh.wire.openai_chat import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest, EmbeddingsResponse

DEFAULT_BASE_URL = "https://api.anthropic.com"
MESSAGES_PATH = "/v1/messages"


class AnthropicProvider:
    kind = "anthropic"

    def __init__(self, name: str, config: Any, secrets: SecretResolver) -> None:
        self.name = name
        self._options = AnthropicOptions.model_validate(config.options)
        headers = dict(config.headers)
        headers["anthropic-version"] = self._options.api_version
        if self._options.betas:
            headers["anthropic-beta"] = ",".join(self._options.betas)
        if config.api_key is not None:
            headers["x-api-key"] = secrets.resolve(config.api_key)
        self._client = build_client(
            config.base_url or DEFAULT_BASE_URL, config.timeouts, config.max_connections, headers
        )
        self._classify = make_classifier(name)

    def capabilities(self, model: str) -> Capabilities:
        return capabilities_for(model, self._options.context_window)

    async def chat(self, request: ChatCompletionRequest) -> ChatCompletion:
        plan = wire.chat_request_body(request, self._options, stream=False)
        data = await post_json(self._client, self.name, MESSAGES_PATH, plan.body, classify=self._classify)
        try:
            return wire.chat_response(data, plan.json_tool)
        except UpstreamError:
            raise UpstreamError(f"provider {self.name} returned a malformed message") from None

    async def chat_stream(self, request: ChatCompletionRequest) -> AsyncIterator[ChatCompletionChunk]:
        plan = wire.chat_request_body(request, self._options, stream=True)
        translator = wire.StreamTranslator(json_tool=plan.json_tool)
        async with open_stream(self._client, self.name, MESSAGES_PATH, plan.body, classify=self._classify) as response:
            async for event in iter_sse(iter_lines(self.name, response)):
                try:
                    payload = json.loads(event.data)
                except ValueError:
                    raise UpstreamError(f"provider {self.name} sent a malformed stream event") from None
                if not isinstance(payload, dict):
                    raise UpstreamError(f"provider {self.name} sent a malformed stream event")
                if event.event == "error" or payload.get("type") == "error":
                    raise stream_error(self.name, payload)
                try:
                    chunks = translator.feed(event.event, payload)
                except (KeyError, TypeError, ValueError):
                    raise UpstreamError(f"provider {self.name} sent a malformed stream event") from None
                for chunk in chunks:
                    yield chunk
                if translator.completed:
                    return
        raise UpstreamError(f"provider {self.name} ended the stream before it completed", code="stream_cut")

    async def embed(self, request: EmbeddingsRequest) -> EmbeddingsResponse:
        raise InvalidRequest(
            f"provider {self.name} (Anthropic) offers no embeddings", code="embeddings_not_supported"
        )

    async def aclose(self) -> None:
        await self._client.aclose()
