"""The ``mistral`` provider: Mistral AI's chat completions and embeddings."""

from __future__ import annotations

from typing import Any

from llm_mesh.providers.common.http_provider import api_key_client
from llm_mesh.providers.openai_compat import OpenAILikeProvider
from llm_mesh.providers.base import Capabilities, SecretResolver
from llm_mesh.providers.mistral import translate_openai_mistral as wire
from llm_mesh.providers.mistral.capabilities import capabilities_for
from llm_mesh.providers.mistral.errors import classify
from llm_mesh.providers.mistral.options import MistralOptions
from llm_mesh.wire.openai_chat import ChatCompletionRequest
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest

DEFAULT_BASE_URL = "https://api.mistral.ai/v1"


class MistralProvider(OpenAILikeProvider):
    kind = "mistral"
    extra_finish_reasons = {"model_length": "length"}

    def __init__(self, name: str, config: Any, secrets: SecretResolver) -> None:
        self._options = MistralOptions.model_validate(config.options)
        super().__init__(name, api_key_client(name, config, secrets, DEFAULT_BASE_URL), classify)

    def capabilities(self, model: str) -> Capabilities:
        return capabilities_for(model, self._options.context_window)

    def chat_body(self, request: ChatCompletionRequest, *, stream: bool) -> dict[str, Any]:
        return wire.chat_request_body(request, stream=stream, safe_prompt=self._options.safe_prompt)

    def embeddings_body(self, request: EmbeddingsRequest) -> dict[str, Any]:
        return wire.embeddings_request_body(request)
