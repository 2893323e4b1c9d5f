"""Facts a provider knows that the OpenAI chat wire has no field for, carried on the
canonical objects outside their serialised fields (so OpenAI answers never show them).

- the stop sequence that ended a choice (Anthropic reports it; OpenAI's ``stop`` cannot
  tell a stop sequence from a natural end);
- the upstream's own prompt usage, known when a stream starts (Anthropic's
  ``message_start``), before the usage-only chunk at the end.

They ride as plain instance attributes: ``model_copy`` (what stream transforms use) keeps
them, a re-validation (a cached answer replayed) drops them, and readers then fall back.
"""

from __future__ import annotations

from typing import Any

from llm_mesh.wire.openai_chat import Usage

_STOP_SEQUENCE = "_mesh_stop_sequence"
_START_USAGE = "_mesh_start_usage"


def set_stop_sequence(choice: Any, sequence: str | None) -> Any:
    if sequence:
        setattr(choice, _STOP_SEQUENCE, sequence)
    return choice


def stop_sequence_of(choice: Any) -> str | None:
    value = getattr(choice, "__dict__", {}).get(_STOP_SEQUENCE)
    return value if isinstance(value, str) else None


def set_start_usage(chunk: Any, usage: Usage) -> Any:
    setattr(chunk, _START_USAGE, usage)
    return chunk


def start_usage_of(chunk: Any) -> Usage | None:
    value = getattr(chunk, "__dict__", {}).get(_START_USAGE)
    return value if isinstance(value, Usage) else None
