"""What each Cohere model can do (used by capability-aware routing)."""

from __future__ import annotations

from llm_mesh.providers.base import Capabilities

# (prefix, context window) — most specific first.
_CONTEXT = (
    ("command-a-vision", 128_000),
    ("command-a-reasoning", 256_000),
    ("command-a", 256_000),
    ("command-r7b", 128_000),
    ("command-r-plus", 128_000),
    ("command-r", 128_000),
    ("command-light", 4_096),
    ("command", 4_096),
    ("aya-vision", 16_000),
    ("aya-expanse", 8_000),
    ("c4ai-aya", 8_000),
)
_EMBED_CONTEXT = (("embed-v4", 128_000), ("embed-", 512))


def model_capabilities(model: str, context_window: int | None = None) -> Capabilities:
    if model.startswith("embed-"):
        window = next(size for prefix, size in _EMBED_CONTEXT if model.startswith(prefix))
        return Capabilities(chat=False, streaming=False, tools=False, vision=False, json_schema=False,
                            embeddings=True, context_window=context_window or window)
    window = next((size for prefix, size in _CONTEXT if model.startswith(prefix)), None)
    modern = model.startswith(("command-a", "command-r"))
    return Capabilities(
        chat=True, streaming=True,
        tools=modern,
        vision="vision" in model,
        json_schema=modern,
        embeddings=False,
        context_window=context_window or window,
    )
