"""Which provider kinds exist, where their code lives, and their option models.

Kinds are resolved lazily (``module:attribute`` strings) so validating a config
never imports a provider's SDK (boto3, google-auth...).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError


@dataclass(frozen=True)
class ProviderKind:
    factory: str  # "module:callable" building a Provider from (name, ProviderConfig, secrets)
    options: str | None = None  # "module:Model" validating ProviderConfig.options
    needs_base_url: bool = False


PROVIDER_KINDS: dict[str, ProviderKind] = {
    "echo": ProviderKind(factory="llm_mesh.providers.echo.provider:EchoProvider", options="llm_mesh.providers.echo.options:EchoOptions"),
    "openai": ProviderKind(
        factory="llm_mesh.providers.openai.provider:OpenAIProvider",
        options="llm_mesh.providers.openai.options:OpenAIOptions",
    ),
    "bedrock": ProviderKind(
        factory="llm_mesh.providers.bedrock.provider:BedrockProvider",
        options="llm_mesh.providers.bedrock.options:BedrockOptions",
    ),
    "sagemaker": ProviderKind(
        factory="llm_mesh.providers.sagemaker.provider:SageMakerProvider",
        options="llm_mesh.providers.sagemaker.options:SageMakerOptions",
    ),
    "anthropic": ProviderKind(
        factory="llm_mesh.providers.anthropic.provider:AnthropicProvider",
        options="llm_mesh.providers.anthropic.options:AnthropicOptions",
    ),
    "azure_openai": ProviderKind(
        factory="llm_mesh.providers.azure_openai.provider:AzureOpenAIProvider",
        options="llm_mesh.providers.azure_openai.options:AzureOpenAIOptions",
        needs_base_url=True,
    ),
    "mistral": ProviderKind(
        factory="llm_mesh.providers.mistral.provider:MistralProvider",
        options="llm_mesh.providers.mistral.options:MistralOptions",
    ),
    "ai21": ProviderKind(
        factory="llm_mesh.providers.ai21.provider:AI21Provider",
        options="llm_mesh.providers.ai21.options:AI21Options",
    ),
    "snowflake": ProviderKind(
        factory="llm_mesh.providers.snowflake.provider:SnowflakeProvider",
        options="llm_mesh.providers.snowflake.options:SnowflakeOptions",
    ),
    "databricks": ProviderKind(
        factory="llm_mesh.providers.databricks.provider:DatabricksProvider",
        options="llm_mesh.providers.databricks.options:DatabricksOptions",
        needs_base_url=True,
    ),
    "huggingface": ProviderKind(
        factory="llm_mesh.providers.huggingface.provider:HuggingFaceProvider",
        options="llm_mesh.providers.huggingface.options:HuggingFaceOptions",
        needs_base_url=True,
    ),
    "gemini": ProviderKind(
        factory="llm_mesh.providers.gemini.provider:GeminiProvider",
        options="llm_mesh.providers.gemini.options:GeminiOptions",
    ),
    "cohere": ProviderKind(
        factory="llm_mesh.providers.cohere.provider:CohereProvider",
        options="llm_mesh.providers.cohere.options:CohereOptions",
    ),
}


def load_attribute(path: str) -> Any:
    module_name, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def validate_provider_options(kind: str, options: dict[str, Any]) -> BaseModel | None:
    spec = PROVIDER_KINDS.get(kind)
    if spec is None or spec.options is None:
        if options:
            raise ValueError(f"provider kind {kind!r} takes no options")
        return None
    model = load_attribute(spec.options)
    try:
        return model.model_validate(options)
    except ValidationError as exc:
        details = "; ".join(
            f"options.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ValueError(details) from None
