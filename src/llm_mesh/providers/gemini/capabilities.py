"""What each Gemini model can do (used by capability-aware routing)."""

from __future__ import annotations

import re

from llm_mesh.providers.base import Capabilities

_EMBEDDING = re.compile(r"(^|/)(text-embedding|text-multilingual-embedding|gemini-embedding|embedding-)")

# (prefix, context window) — most specific first.
_CONTEXT = (
    ("gemini-1.5-pro", 2_097_152),
    ("gemini-1.5-flash", 1_048_576),
    ("gemini-1.0", 32_760),
    ("gemini-pro", 32_760),
    ("gemini-2", 1_048_576),
    ("gemini-3", 1_048_576),
    ("gemini-", 1_048_576),
)


def model_capabilities(model: str, context_window: int | None = None) -> Capabilities:
    name = model.rsplit("/", 1)[-1]
    if _EMBEDDING.search(model):
        window = 2048 if not name.startswith("gemini-embedding") else 8192
        return Capabilities(
            chat=False, streaming=False, tools=False, vision=False, json_schema=False,
            embeddings=True, context_window=context_window or window,
        )
    window = next((size for prefix, size in _CONTEXT if name.startswith(prefix)), None)
    legacy = name.startswith(("gemini-1.0", "gemini-pro"))
    return Capabilities(
        chat=True, streaming=True, tools=True, vision=not name.startswith("gemini-pro") or "vision" in name,
        json_schema=not legacy, embeddings=False, context_window=context_window or window,
    )
