"""The ``databricks`` provider: Databricks Model Serving endpoints."""

from __future__ import annotations

from typing import Any

from llm_mesh.providers.common.http_provider import api_key_client
from llm_mesh.providers.openai_compat import OpenAILikeProvider
from llm_mesh.providers.base import Capabilities, SecretResolver
from llm_mesh.providers.databricks import translate_openai_databricks as wire
from llm_mesh.providers.databricks.capabilities import capabilities_for
from llm_mesh.providers.databricks.errors import classify
from llm_mesh.providers.databricks.options import DatabricksOptions
from llm_mesh.wire.openai_chat import ChatCompletionRequest
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest


class DatabricksProvider(OpenAILikeProvider):
    kind = "databricks"
    stream_ends_with_done = False  # complete once every choice has its finish_reason

    def __init__(self, name: str, config: Any, secrets: SecretResolver) -> None:
        self._options = DatabricksOptions.model_validate(config.options)
        super().__init__(name, api_key_client(name, config, secrets), classify)

    def capabilities(self, model: str) -> Capabilities:
        return capabilities_for(model, self._options.context_window)

    def _endpoint(self, model: str) -> str:
        return wire.endpoint_for(model, self._options.endpoints)

    def chat_path(self, model: str) -> str:
        return wire.path(self._options.api, self._endpoint(model), "chat/completions")

    def embeddings_path(self, model: str) -> str:
        return wire.path(self._options.api, self._endpoint(model), "embeddings")

    def chat_body(self, request: ChatCompletionRequest, *, stream: bool) -> dict[str, Any]:
        return wire.chat_request_body(request, self._options.api, self._endpoint(request.model), stream=stream)

    def embeddings_body(self, request: EmbeddingsRequest) -> dict[str, Any]:
        return wire.embeddings_request_body(request, self._options.api, self._endpoint(request.model))
