"""Building OpenAI ``usage`` from upstream token counts."""

from __future__ import annotations

from llm_mesh.wire.openai_chat import CompletionTokensDetails, PromptTokensDetails, Usage


def make_usage(
    prompt: int,
    completion: int,
    *,
    total: int | None = None,
    cached: int | None = None,
    reasoning: int | None = None,
) -> Usage:
    """Usage with ``total = prompt + completion`` unless given; details only when a count is given."""
    result = Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion if total is None else total,
    )
    if cached is not None:
        result.prompt_tokens_details = PromptTokensDetails(cached_tokens=cached)
    if reasoning is not None:
        result.completion_tokens_details = CompletionTokensDetails(reasoning_tokens=reasoning)
    return result
