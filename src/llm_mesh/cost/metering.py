"""Metering: billable quantities from the provider's usage, or estimated with the
mesh's tokenizer (tiktoken cl100k) and flagged when the provider reported none."""

from __future__ import annotations

from typing import Any, Iterable

from llm_mesh.cost.prices import Metered
from llm_mesh.tokens import count_messages, count_text


def from_usage(usage: Any) -> Metered:
    """Provider usage (OpenAI shape): cached prompt tokens are billed apart from the rest."""
    details = getattr(usage, "prompt_tokens_details", None)
    cached = (getattr(details, "cached_tokens", None) or 0) if details is not None else 0
    extra = getattr(usage, "model_extra", None) or {}
    cache_write = int(extra.get("cache_creation_input_tokens") or 0)  # Anthropic-style, when a provider passes it
    prompt = int(usage.prompt_tokens or 0)
    billed_input = max(0, prompt - cached - cache_write)
    return Metered(input_tokens=billed_input, output_tokens=int(usage.completion_tokens or 0),
                   cached_input_tokens=min(cached, prompt), cache_write_tokens=cache_write)


def estimate(messages: Iterable[Any] | None, completion_text: str) -> Metered:
    prompt = count_messages(messages) if messages is not None else 0
    return Metered(input_tokens=prompt, output_tokens=count_text(completion_text), estimated=True)


def embedding_usage(usage: Any | None, texts: list[str] | None) -> Metered:
    if usage is not None and getattr(usage, "prompt_tokens", 0):
        return Metered(embedding_tokens=int(usage.prompt_tokens))
    return Metered(embedding_tokens=sum(count_text(t) for t in texts or ()), estimated=True)
