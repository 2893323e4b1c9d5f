"""The ``azure_openai`` provider: Azure OpenAI deployments (or the v1 API).

Auth is the ``api-key`` header from ``api_key``, or a Microsoft Entra ID bearer
token from the client-credentials grant (``auth: entra``), cached until near its
expiry. Everything else is the shared OpenAI-like engine.
"""

from __future__ import annotations

from typing import Any

import httpx

from llm_mesh.errors import InvalidRequest
from llm_mesh.providers.azure_openai import translate_openai_azure_openai as wire
from llm_mesh.providers.azure_openai.capabilities import capabilities_for
from llm_mesh.providers.azure_openai.entra import EntraTokenProvider
from llm_mesh.providers.azure_openai.errors import classify
from llm_mesh.providers.openai_compat import OpenAILikeProvider
from llm_mesh.providers.azure_openai.options import AzureOpenAIOptions
from llm_mesh.providers.base import Capabilities, SecretResolver
from llm_mesh.providers.common.http_provider import api_key_client
from llm_mesh.providers.http_base import build_client
from llm_mesh.wire.openai_chat import ChatCompletionRequest
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest


class AzureOpenAIProvider(OpenAILikeProvider):
    kind = "azure_openai"

    def __init__(self, name: str, config: Any, secrets: SecretResolver) -> None:
        options = AzureOpenAIOptions.model_validate(config.options)
        if not config.base_url:
            raise InvalidRequest(f"provider {name}: azure_openai needs base_url (https://RESOURCE.openai.azure.com)")
        self._entra: EntraTokenProvider | None = None
        self._token_client: httpx.AsyncClient | None = None
        if options.auth == "entra":
            entra = options.entra
            assert entra is not None  # enforced by the options model
            self._token_client = build_client(entra.authority_host, config.timeouts, 4, {})
            secret_ref = entra.client_secret
            self._entra = EntraTokenProvider(
                name,
                self._token_client,
                entra.authority_host,
                entra.tenant_id,
                entra.client_id,
                lambda: secrets.resolve(secret_ref),
                entra.scope,
            )
        key_header = None if self._entra is not None else "api-key"  # Entra: a bearer token per request
        super().__init__(name, api_key_client(name, config, secrets, key_header=key_header), classify)
        self._options = options

    def capabilities(self, model: str) -> Capabilities:
        return capabilities_for(model, self._options.context_window)

    def _deployment(self, model: str) -> str:
        return wire.deployment_for(model, self._options.deployments)

    def chat_path(self, model: str) -> str:
        return wire.operation_path(self._options.api, self._options.api_version, self._deployment(model), "chat/completions")

    def embeddings_path(self, model: str) -> str:
        return wire.operation_path(self._options.api, self._options.api_version, self._deployment(model), "embeddings")

    async def request_headers(self) -> dict[str, str] | None:
        if self._entra is None:
            return None
        return {"Authorization": f"Bearer {await self._entra.token()}"}

    def chat_body(self, request: ChatCompletionRequest, *, stream: bool) -> dict[str, Any]:
        return wire.chat_request_body(request, self._deployment(request.model), stream=stream)

    def embeddings_body(self, request: EmbeddingsRequest) -> dict[str, Any]:
        return wire.embeddings_request_body(request, self._deployment(request.model))

    async def aclose(self) -> None:
        await super().aclose()
        if self._token_client is not None:
            await self._token_client.aclose()
