"""Finish-reason tables: upstream stop reasons -> OpenAI ``finish_reason``."""

from __future__ import annotations

from typing import Any, Mapping

# Claude's stop reasons, shared by the Anthropic API and Bedrock Converse.
CLAUDE_STOP_REASONS: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
}


def lookup_finish_reason(value: Any, table: Mapping[str, str], default: str = "stop") -> str | None:
    """None stays None (not finished); an unknown reason is ``default``."""
    if value is None:
        return None
    return table.get(value, default)
