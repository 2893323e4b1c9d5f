"""Options for the ``databricks`` kind.

``base_url`` is the workspace URL (``https://<workspace>.cloud.databricks.com``);
``api_key`` a personal access token (or a service principal's OAuth token).
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class DatabricksOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api: Literal["invocations", "openai"] = Field(
        default="invocations",
        description="'invocations': POST /serving-endpoints/{endpoint}/invocations; "
        "'openai': the OpenAI-compatible POST /serving-endpoints/chat/completions with model=endpoint",
    )
    endpoints: dict[str, str] = Field(
        default_factory=dict, description="route model name -> serving endpoint name; unmapped names are used as is"
    )
    context_window: int | None = Field(default=None, ge=1)
