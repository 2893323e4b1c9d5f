"""Options for the ``bedrock`` kind."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class BedrockOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    region: str | None = Field(
        default=None,
        pattern=r"^[a-z]{2}(-[a-z]+)+-\d+$",
        description="AWS region of the Bedrock Runtime endpoint; default from the environment (AWS_REGION)",
    )
    endpoint_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description="VPC endpoint or test double; configuration only, never taken from a request",
    )
    max_pool_connections: int | None = Field(
        default=None, ge=1, le=10_000, description="default: the provider's max_connections"
    )
    read_timeout: float | None = Field(
        default=None, gt=0, le=900, description="default: the provider's timeouts.read"
    )
    stream_buffer: int = Field(default=64, ge=1, le=4096, description="events buffered between the boto3 thread and the loop")
    cohere_input_type: Literal["search_document", "search_query", "classification", "clustering"] = "search_document"
    titan_normalize: bool = Field(default=True, description="Titan embeddings v2 'normalize'")
    context_window: int | None = Field(default=None, ge=1, description="override the per-family table")
