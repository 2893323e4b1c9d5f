"""Capabilities of a TGI-served model: declared in the provider options (one model per server)."""

from __future__ import annotations

from llm_mesh.providers.base import Capabilities
from llm_mesh.providers.huggingface.options import HuggingFaceOptions


def capabilities_for(model: str, options: HuggingFaceOptions) -> Capabilities:
    return Capabilities(
        tools=options.tools,
        vision=options.vision,
        json_schema=True,  # TGI grammars
        embeddings=True,
        context_window=options.context_window,
    )
