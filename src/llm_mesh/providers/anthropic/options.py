"""Options for the ``anthropic`` kind."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class AnthropicOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_version: str = Field(default="2023-06-01", description="the anthropic-version header")
    default_max_tokens: int = Field(
        default=4096, ge=1, le=1_000_000,
        description="max_tokens sent when the request sets none (Anthropic requires it)",
    )
    structured_output: Literal["auto", "output_config", "tool"] = Field(
        default="auto",
        description=(
            "how a json_schema response_format is sent: 'output_config' (native structured outputs, "
            "output_config.format), 'tool' (a forced tool whose input is the answer), or 'auto' "
            "(native for models known to support it, the forced tool otherwise)"
        ),
    )
    betas: list[str] = Field(default_factory=list, description="values for the anthropic-beta header")
    context_window: int | None = Field(default=None, ge=1)
