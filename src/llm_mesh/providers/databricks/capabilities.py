"""Per-endpoint capabilities for Databricks foundation-model endpoints (``databricks-*``)."""

from __future__ import annotations

from llm_mesh.providers.openai_compat import capabilities_from_table
from llm_mesh.providers.base import Capabilities

_EMBED = Capabilities(chat=False, streaming=False, tools=False, vision=False, json_schema=False, embeddings=True)
_FAMILIES: tuple[tuple[str, Capabilities], ...] = (
    ("databricks-bge", _EMBED),
    ("databricks-gte", _EMBED),
    ("databricks-claude", Capabilities(context_window=200000)),
    ("databricks-meta-llama", Capabilities(vision=False, context_window=128000)),
    ("databricks-llama-4", Capabilities(context_window=128000)),
    ("databricks-gpt", Capabilities(context_window=128000)),
    ("databricks-gemini", Capabilities(context_window=1000000)),
)


def capabilities_for(model: str, context_window: int | None = None) -> Capabilities:
    return capabilities_from_table(model, _FAMILIES, Capabilities(vision=False, embeddings=True), context_window)
