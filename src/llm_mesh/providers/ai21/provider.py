"""The ``ai21`` provider: AI21 Studio's Jamba chat completions (no embeddings)."""

from __future__ import annotations

from typing import Any

from llm_mesh.providers.ai21 import translate_openai_ai21 as wire
from llm_mesh.providers.ai21.capabilities import capabilities_for
from llm_mesh.providers.ai21.errors import classify
from llm_mesh.providers.ai21.options import AI21Options
from llm_mesh.providers.common.http_provider import api_key_client
from llm_mesh.providers.openai_compat import OpenAILikeProvider
from llm_mesh.providers.base import Capabilities, SecretResolver
from llm_mesh.wire.openai_chat import ChatCompletionRequest

DEFAULT_BASE_URL = "https://api.ai21.com/studio/v1"


class AI21Provider(OpenAILikeProvider):
    offers_embeddings = False
    kind = "ai21"

    def __init__(self, name: str, config: Any, secrets: SecretResolver) -> None:
        self._options = AI21Options.model_validate(config.options)
        super().__init__(name, api_key_client(name, config, secrets, DEFAULT_BASE_URL), classify)

    def capabilities(self, model: str) -> Capabilities:
        return capabilities_for(model, self._options.context_window)

    def chat_body(self, request: ChatCompletionRequest, *, stream: bool) -> dict[str, Any]:
        return wire.chat_request_body(request, stream=stream)
