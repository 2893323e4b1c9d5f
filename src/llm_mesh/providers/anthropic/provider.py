"""The ``anthropic`` provider: Anthropic's Messages API (POST /v1/messages). I/O only."""

from __future__ import annotations

from typing import Any, AsyncIterator

from llm_mesh.errors import InvalidRequest, UpstreamError
from llm_mesh.providers.anthropic import translate_openai_anthropic as wire
from llm_mesh.providers.anthropic.capabilities import capabilities_for
from llm_mesh.providers.anthropic.errors import make_classifier, stream_error
from llm_mesh.providers.anthropic.options import AnthropicOptions
from llm_mesh.providers.base import Capabilities, SecretResolver
from llm_mesh.providers.common.http_provider import api_key_client
from llm_mesh.providers.http_base import iter_lines, open_stream, parse_event, post_json, stream_cut
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
        headers = {"anthropic-version": self._options.api_version}
        if self._options.betas:
            headers["anthropic-beta"] = ",".join(self._options.betas)
        self._client = api_key_client(
            name, config, secrets, DEFAULT_BASE_URL, key_header="x-api-key", extra_headers=headers
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
                payload = parse_event(self.name, event.data)
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
        raise stream_cut(self.name)

    async def embed(self, request: EmbeddingsRequest) -> EmbeddingsResponse:
        raise InvalidRequest(
            f"provider {self.name} (Anthropic) offers no embeddings", code="embeddings_not_supported"
        )

    async def aclose(self) -> None:
        await self._client.aclose()
