"""Per-model capabilities of Azure OpenAI deployments (by the underlying model family)."""

from __future__ import annotations

from llm_mesh.providers.openai_compat import capabilities_from_table
from llm_mesh.providers.base import Capabilities

# Longest prefix wins; context windows from the Azure OpenAI model tables.
_FAMILIES: tuple[tuple[str, Capabilities], ...] = (
    ("text-embedding", Capabilities(chat=False, streaming=False, tools=False, vision=False, json_schema=False, embeddings=True, context_window=8191)),
    ("gpt-35-turbo", Capabilities(vision=False, json_schema=False, context_window=16385)),
    ("gpt-4o", Capabilities(context_window=128000)),
    ("gpt-4.1", Capabilities(context_window=1047576)),
    ("gpt-4", Capabilities(vision=False, json_schema=False, context_window=128000)),
    ("o1", Capabilities(context_window=200000)),
    ("o3", Capabilities(context_window=200000)),
    ("o4", Capabilities(context_window=200000)),
    ("gpt-5", Capabilities(context_window=400000)),
)


def capabilities_for(model: str, context_window: int | None = None) -> Capabilities:
    """``model`` is the route's model name (deployments are often named after it)."""
    return capabilities_from_table(model, _FAMILIES, Capabilities(embeddings=True), context_window)
