"""Options for the ``cohere`` kind."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class CohereOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    embedding_input_type: Literal["search_document", "search_query", "classification", "clustering"] = Field(
        default="search_document", description="v2 embed requires an input_type; OpenAI's API has none"
    )
    safety_mode: Literal["CONTEXTUAL", "STRICT", "OFF"] | None = None
    context_window: int | None = Field(default=None, ge=1)
