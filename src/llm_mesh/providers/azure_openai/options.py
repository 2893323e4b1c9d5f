"""Options for the ``azure_openai`` kind.

``base_url`` is the resource endpoint, e.g. ``https://my-resource.openai.azure.com``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llm_mesh.config.base import SecretRef


class EntraCredentials(BaseModel):
    """Microsoft Entra ID client-credentials grant for a service principal."""

    model_config = ConfigDict(extra="forbid")

    tenant_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9.-]+$")
    client_id: str = Field(min_length=1, max_length=128)
    client_secret: SecretRef
    authority_host: str = Field(
        default="https://login.microsoftonline.com",
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description="token endpoint host (sovereign clouds, or a loopback fake in tests)",
    )
    scope: str = "https://cognitiveservices.azure.com/.default"


class AzureOpenAIOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api: Literal["deployments", "v1"] = Field(
        default="deployments",
        description="'deployments': /openai/deployments/{deployment}/...?api-version=; "
        "'v1': the versionless /openai/v1/... API (deployment name goes in the body's model)",
    )
    api_version: str = Field(default="2024-10-21", pattern=r"^\d{4}-\d{2}-\d{2}(-preview)?$")
    deployments: dict[str, str] = Field(
        default_factory=dict, description="route model name -> deployment name; unmapped names are used as is"
    )
    auth: Literal["api_key", "entra"] = "api_key"
    entra: EntraCredentials | None = None
    context_window: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _entra_needs_credentials(self) -> "AzureOpenAIOptions":
        if self.auth == "entra" and self.entra is None:
            raise ValueError("auth 'entra' needs entra: {tenant_id, client_id, client_secret}")
        if self.auth == "api_key" and self.entra is not None:
            raise ValueError("entra credentials given but auth is 'api_key'; set auth: entra")
        return self
