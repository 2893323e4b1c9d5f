"""Per-model capabilities of AI21 Jamba models (256K context, tools, JSON mode, no vision)."""

from __future__ import annotations

from llm_mesh.providers.openai_compat import capabilities_from_table
from llm_mesh.providers.base import Capabilities

_JAMBA = Capabilities(vision=False, json_schema=False, context_window=256000)
_FAMILIES: tuple[tuple[str, Capabilities], ...] = (("jamba", _JAMBA),)


def capabilities_for(model: str, context_window: int | None = None) -> Capabilities:
    return capabilities_from_table(model, _FAMILIES, _JAMBA, context_window)
