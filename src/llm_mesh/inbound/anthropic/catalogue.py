"""Anthropic's shapes of what the mesh knows without calling a model: the models list
(``GET /v1/models`` with the ``anthropic-version`` header) and token counts
(``POST /v1/messages/count_tokens``). Pure functions, no I/O."""

from __future__ import annotations

import json
from typing import Any

from llm_mesh.errors import InvalidRequest, NotFound
from llm_mesh.tokens import count_messages, count_text
from llm_mesh.wire.openai_chat import ChatCompletionRequest

RELEASED_UNKNOWN = "1970-01-01T00:00:00Z"  # the API's documented stand-in for an unknown release date
DEFAULT_LIMIT, MAX_LIMIT = 20, 1000


def model_info(name: str) -> dict[str, Any]:
    return {"type": "model", "id": name, "display_name": name, "created_at": RELEASED_UNKNOWN, "lifecycle": "active"}


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest("limit: must be an integer", param="limit") from None
    if not 1 <= value <= MAX_LIMIT:
        raise InvalidRequest(f"limit: must be between 1 and {MAX_LIMIT}", param="limit")
    return value


def models_page(names: list[str], limit: str | None, after_id: str | None, before_id: str | None) -> dict[str, Any]:
    """One page of the models list, cursor-paged by id as Anthropic pages it."""
    size = _limit(limit)
    ordered = sorted(names)
    start, end = 0, len(ordered)
    if after_id is not None:
        if after_id not in ordered:
            raise NotFound(f"after_id: no model {after_id!r}")
        start = ordered.index(after_id) + 1
    if before_id is not None:
        if before_id not in ordered:
            raise NotFound(f"before_id: no model {before_id!r}")
        end = ordered.index(before_id)
        start = max(start, end - size) if after_id is None else start
    page = ordered[start:min(end, start + size)]
    more = (start + len(page) < end) if before_id is None else start > 0
    data = [model_info(name) for name in page]
    return {"data": data, "has_more": more, "first_id": page[0] if page else None, "last_id": page[-1] if page else None}


def estimate_input_tokens(canonical: ChatCompletionRequest) -> int:
    """The prompt's tokens by the mesh's tiktoken count (messages, system, tool definitions)."""
    total = count_messages(canonical.messages)
    for tool in canonical.tools or []:
        total += count_text(json.dumps(tool.function.model_dump(exclude_none=True), separators=(",", ":")))
    return total
