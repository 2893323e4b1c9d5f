"""Options for the ``gemini`` kind (Gemini API or Vertex AI)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

_SEGMENT = r"^[a-z0-9][a-z0-9-]{0,62}$"  # a host label: the location becomes part of the Vertex hostname


class SafetySetting(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: str = Field(pattern=r"^HARM_CATEGORY_[A-Z_]+$")
    threshold: str = Field(pattern=r"^[A-Z_]+$")


class GeminiOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    platform: Literal["gemini_api", "vertex"] = "gemini_api"
    project: str | None = Field(
        default=None, pattern=r"^[a-z][a-z0-9-]{4,61}[a-z0-9]$",
        description="Vertex: GCP project id (defaults to the service account's project_id)",
    )
    location: str = Field(default="us-central1", pattern=_SEGMENT, description="Vertex region, or 'global'")
    api_version: str | None = Field(
        default=None, pattern=r"^v1(beta\d*)?$", description="default v1beta (Gemini API) / v1 (Vertex)"
    )
    safety_settings: list[SafetySetting] | None = None
    embedding_task_type: str | None = Field(
        default=None, pattern=r"^[A-Z_]+$", description="e.g. RETRIEVAL_DOCUMENT, SEMANTIC_SIMILARITY"
    )
    context_window: int | None = Field(default=None, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _platform_fields(cls, value: Any) -> Any:
        if isinstance(value, dict) and value.get("platform", "gemini_api") == "gemini_api":
            for key in ("project",):
                if value.get(key) is not None:
                    raise ValueError(f"'{key}' only applies to platform: vertex")
        return value

    @property
    def version(self) -> str:
        return self.api_version or ("v1" if self.platform == "vertex" else "v1beta")
