"""Options for the ``openai`` kind (OpenAI itself and any compatible server)."""

from pydantic import BaseModel, ConfigDict, Field


class OpenAIOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organization: str | None = None
    project: str | None = None
    embedding_dimensions: bool = Field(
        default=True, description="whether the upstream honours the 'dimensions' embeddings parameter"
    )
    context_window: int | None = Field(default=None, ge=1)
