"""OpenAI Embeddings wire models."""

from __future__ import annotations

import base64
import struct
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class EmbeddingsRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, max_length=256)
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: int | None = Field(default=None, ge=1, le=65536)
    user: str | None = Field(default=None, max_length=512)

    @field_validator("input")
    @classmethod
    def _non_empty(cls, value):  # type: ignore[no-untyped-def]
        if isinstance(value, list):
            if not value:
                raise ValueError("input must not be an empty list")
            if len(value) > 2048:
                raise ValueError("at most 2048 inputs per request")
            if any(isinstance(item, str) and item == "" for item in value):
                raise ValueError("input strings must not be empty")
        elif value == "":
            raise ValueError("input must not be empty")
        return value

    def texts(self) -> list[str]:
        """Inputs as strings (token-id inputs are only valid for OpenAI-compatible upstreams)."""
        if isinstance(self.input, str):
            return [self.input]
        if self.input and isinstance(self.input[0], str):
            return list(self.input)  # type: ignore[arg-type]
        return []


class Embedding(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingsUsage(BaseModel):
    prompt_tokens: int = 0
    total_tokens: int = 0


class EmbeddingsResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: EmbeddingsUsage


def encode_base64(vector: list[float]) -> str:
    """OpenAI's base64 format: little-endian float32 array."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def apply_encoding(response: EmbeddingsResponse, encoding_format: str | None) -> EmbeddingsResponse:
    if encoding_format != "base64":
        return response
    for item in response.data:
        if isinstance(item.embedding, list):
            item.embedding = encode_base64(item.embedding)
    return response
