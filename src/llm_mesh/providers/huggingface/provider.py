"""The ``huggingface`` provider: TGI / Inference Endpoints Messages API, TEI embeddings."""

from __future__ import annotations

from typing import Any

from llm_mesh.errors import MeshError
from llm_mesh.providers.common.http_provider import api_key_client
from llm_mesh.providers.openai_compat import OpenAILikeProvider
from llm_mesh.providers.base import Capabilities, SecretResolver
from llm_mesh.providers.huggingface import errors
from llm_mesh.providers.huggingface import translate_openai_huggingface as wire
from llm_mesh.providers.huggingface.capabilities import capabilities_for
from llm_mesh.providers.huggingface.options import HuggingFaceOptions
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest, EmbeddingsResponse


class HuggingFaceProvider(OpenAILikeProvider):
    kind = "huggingface"

    def __init__(self, name: str, config: Any, secrets: SecretResolver) -> None:
        self._options = HuggingFaceOptions.model_validate(config.options)
        super().__init__(name, api_key_client(name, config, secrets), errors.classify)

    def capabilities(self, model: str) -> Capabilities:
        return capabilities_for(model, self._options)

    def chat_path(self, model: str) -> str:
        return "/v1/chat/completions"

    def embeddings_path(self, model: str) -> str:
        return "/embed" if self._options.embeddings_api == "tei" else "/v1/embeddings"

    def embeddings_body(self, request: EmbeddingsRequest) -> dict[str, Any]:
        if self._options.embeddings_api == "tei":
            return dict(wire.tei_embed_body(request, normalize=self._options.normalize))
        return super().embeddings_body(request)

    def parse_embeddings(self, data: Any, request: EmbeddingsRequest) -> EmbeddingsResponse:
        if self._options.embeddings_api == "tei":
            return wire.tei_embed_response(data, request)
        return super().parse_embeddings(data, request)

    def stream_error(self, payload: dict[str, Any]) -> MeshError | None:
        if "error" in payload and "choices" not in payload:
            return errors.stream_error(self.name, payload)
        return super().stream_error(payload)
