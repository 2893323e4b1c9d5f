"""Options for the ``huggingface`` kind.

``base_url`` is the server root: a self-hosted TGI (``http://tgi:8080``), an
Inference Endpoint (``https://xyz.endpoints.huggingface.cloud``) or the Inference
Providers router. ``api_key`` (an HF token) is optional for self-hosted servers.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class HuggingFaceOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    embeddings_api: Literal["openai", "tei"] = Field(
        default="openai", description="'openai': POST /v1/embeddings; 'tei': TEI's native POST /embed"
    )
    normalize: bool = Field(default=True, description="TEI /embed: return unit-length vectors")
    context_window: int | None = Field(default=None, ge=1, description="the server's max total tokens")
    tools: bool = Field(default=True, description="whether the served model supports tool calls")
    vision: bool = False
