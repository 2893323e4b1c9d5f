"""Assistant tool calls going upstream: OpenAI's JSON-string arguments as a JSON object."""

from __future__ import annotations

import json
from typing import Any

from llm_mesh.errors import InvalidRequest


def parse_tool_arguments(
    arguments: str | None, *, not_json: str, not_object: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """``{}`` for blank arguments, else the decoded JSON object.

    Raises InvalidRequest(``not_json``) when the text is not JSON and
    InvalidRequest(``not_object`` or ``not_json``) when it is JSON but not an object.
    """
    if not arguments or not arguments.strip():
        return {}
    try:
        value = json.loads(arguments)
    except ValueError:
        raise InvalidRequest(not_json, param=param) from None
    if not isinstance(value, dict):
        raise InvalidRequest(not_object or not_json, param=param)
    return value
