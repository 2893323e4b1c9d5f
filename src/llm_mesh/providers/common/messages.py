"""Request shaping shared by translators: closed-schema field picking, stop lists, system roles, same-role turn merging."""

from __future__ import annotations

from typing import Any


def pick(body: dict[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    """Keep only the fields an upstream with a closed request schema accepts."""
    return {key: value for key, value in body.items() if key in allowed}


def stop_list(stop: str | list[str] | None) -> list[str]:
    """OpenAI's ``stop`` (one string or a list of them) as a list; ``[]`` when unset."""
    if not stop:
        return []
    return [stop] if isinstance(stop, str) else list(stop)


def system_roles(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI's newer ``developer`` role is a system message to everyone else."""
    return [{**m, "role": "system"} if m.get("role") == "developer" else m for m in messages]


def append_turn(turns: list[Any], role: str, blocks: list[Any], key: str = "content") -> None:
    """Append ``blocks`` as a ``role`` turn, merged into the last turn when it has the same role.

    Upstreams that require alternating roles (Anthropic, Bedrock Converse, Gemini) get
    consecutive same-role messages (a tool result after a tool result) as one turn.
    Empty ``blocks`` add nothing.
    """
    if not blocks:
        return
    if turns and turns[-1]["role"] == role:
        turns[-1][key].extend(blocks)
    else:
        turns.append({"role": role, key: list(blocks)})
