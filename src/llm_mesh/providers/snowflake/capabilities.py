"""Per-model capabilities of Cortex models (context windows from Snowflake's model table)."""

from __future__ import annotations

from llm_mesh.providers.openai_compat import capabilities_from_table
from llm_mesh.providers.base import Capabilities

_FAMILIES: tuple[tuple[str, Capabilities], ...] = (
    ("claude", Capabilities(context_window=200000)),
    ("openai-gpt", Capabilities(context_window=128000)),
    ("llama3.1", Capabilities(vision=False, json_schema=False, context_window=128000)),
    ("llama3.3", Capabilities(vision=False, json_schema=False, context_window=128000)),
    ("llama4", Capabilities(json_schema=False, context_window=128000)),
    ("mistral-large", Capabilities(vision=False, json_schema=False, context_window=128000)),
    ("snowflake-arctic", Capabilities(tools=False, vision=False, json_schema=False, context_window=4096)),
    ("deepseek", Capabilities(tools=False, vision=False, json_schema=False, context_window=32768)),
)


def capabilities_for(model: str, context_window: int | None = None) -> Capabilities:
    return capabilities_from_table(model, _FAMILIES, Capabilities(vision=False, json_schema=False), context_window)
