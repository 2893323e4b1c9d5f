"""Per-model capabilities of Mistral's API models (context windows from Mistral's model table)."""

from __future__ import annotations

from llm_mesh.providers.openai_compat import capabilities_from_table
from llm_mesh.providers.base import Capabilities

_EMBED = Capabilities(chat=False, streaming=False, tools=False, vision=False, json_schema=False, embeddings=True,
                      context_window=8192)
_FAMILIES: tuple[tuple[str, Capabilities], ...] = (
    ("mistral-embed", _EMBED),
    ("codestral-embed", _EMBED),
    ("mistral-large", Capabilities(vision=False, context_window=131072)),
    ("mistral-medium", Capabilities(context_window=131072)),
    ("mistral-small", Capabilities(context_window=131072)),
    ("pixtral", Capabilities(context_window=131072)),
    ("codestral", Capabilities(vision=False, context_window=256000)),
    ("ministral", Capabilities(vision=False, context_window=131072)),
    ("open-mistral-nemo", Capabilities(vision=False, context_window=131072)),
    ("magistral", Capabilities(vision=False, context_window=40000)),
)


def capabilities_for(model: str, context_window: int | None = None) -> Capabilities:
    return capabilities_from_table(model, _FAMILIES, Capabilities(vision=False), context_window)
