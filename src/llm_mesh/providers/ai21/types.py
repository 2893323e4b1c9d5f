"""AI21 Jamba chat wire fields (from AI21's chat request reference and SDK).

Message content is a plain string; ``documents`` (grounding documents) is
AI21-specific and passes through from the request's extra fields.
"""

from __future__ import annotations

from typing import Any, TypedDict

CHAT_FIELDS = frozenset(
    {
        "model",
        "messages",
        "tools",
        "documents",
        "response_format",  # {"type": "text" | "json_object"}
        "max_tokens",
        "temperature",
        "top_p",
        "stop",
        "n",
        "stream",
    }
)


class AI21Document(TypedDict, total=False):
    id: str
    content: str
    metadata: list[dict[str, Any]]


class AI21Error(TypedDict, total=False):
    detail: Any  # a string, or a list of validation problems
