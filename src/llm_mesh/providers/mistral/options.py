"""Options for the ``mistral`` kind (default base_url https://api.mistral.ai/v1)."""

from pydantic import BaseModel, ConfigDict, Field


class MistralOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    safe_prompt: bool = Field(default=False, description="ask Mistral to inject its safety system prompt")
    context_window: int | None = Field(default=None, ge=1)
