"""Per-model capabilities of Anthropic's models.

Every Claude 3+ model takes tools and images. Native structured outputs
(``output_config.format``) exist on Claude Opus 4.1 and the 4.5 generation onwards;
older models get a json_schema through a forced tool instead, so ``json_schema`` is
available on all of them. The context window is 200k tokens unless configured.
"""

from __future__ import annotations

import re

from llm_mesh.providers.base import Capabilities

DEFAULT_CONTEXT_WINDOW = 200_000
_FAMILY = re.compile(r"claude-(?:opus|sonnet|haiku)-(\d+)(?:-(\d{1,2}))?(?:-|$|@)")


def model_version(model: str) -> tuple[int, int] | None:
    match = _FAMILY.search(model)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2) or 0)


def supports_native_structured_output(model: str) -> bool:
    version = model_version(model)
    if version is None:
        return False
    if "opus" in model and version >= (4, 1):
        return True
    return version >= (4, 5)


def capabilities_for(model: str, context_window: int | None) -> Capabilities:
    return Capabilities(
        chat=True,
        streaming=True,
        tools=True,
        vision=True,
        json_schema=True,
        embeddings=False,
        context_window=context_window or DEFAULT_CONTEXT_WINDOW,
    )
