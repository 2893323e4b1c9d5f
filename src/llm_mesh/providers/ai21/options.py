"""Options for the ``ai21`` kind (default base_url https://api.ai21.com/studio/v1)."""

from pydantic import BaseModel, ConfigDict, Field


class AI21Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    context_window: int | None = Field(default=None, ge=1)
