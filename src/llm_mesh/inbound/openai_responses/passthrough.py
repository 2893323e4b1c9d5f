"""What a native Responses target gets beyond the canonical request: the inbound body's
Responses-only settings that have no chat twin.

Native passthrough (``options.responses: native`` on an ``openai`` provider) builds the
upstream body from the request as the pipeline screened it
(``llm_mesh.providers.openai.translate_openai_responses``); this module picks, from the
client's body, only the settings that carry no free text (enums, numbers, include paths), and
refuses anything else in them with a 400, so no unscreened client string leaves the mesh by
this side door. ``instructions`` is a flag: the screened system message goes back into
``instructions`` upstream.
"""

from __future__ import annotations

import re
from typing import Any

from llm_mesh.errors import InvalidRequest

_WORDS = {
    "truncation": ("auto", "disabled"),
    "service_tier": ("auto", "default", "flex", "scale", "priority"),
}
_REASONING = {"summary": ("auto", "concise", "detailed"), "generate_summary": ("auto", "concise", "detailed")}
_VERBOSITY = ("low", "medium", "high")
_INCLUDE = re.compile(r"[a-z_]+(\.[a-z_]+)*")


def _word(value: Any, allowed: tuple[str, ...], param: str) -> str:
    if value not in allowed:
        raise InvalidRequest(f"{param} must be one of {', '.join(allowed)}", param=param)
    return value


def _count(value: Any, param: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidRequest(f"{param} must be a non-negative integer", param=param)
    return value


def native_settings(body: dict[str, Any]) -> dict[str, Any]:
    """The settings a native target gets, checked; ``{}`` plus ``instructions`` when none are set."""
    settings: dict[str, Any] = {"instructions": body.get("instructions") is not None}
    for key, allowed in _WORDS.items():
        if body.get(key) is not None:
            settings[key] = _word(body[key], allowed, key)
    for key in ("max_tool_calls", "top_logprobs"):
        if body.get(key) is not None:
            settings[key] = _count(body[key], key)
    include = body.get("include")
    if include is not None:
        if not isinstance(include, list) or not all(isinstance(i, str) and _INCLUDE.fullmatch(i) for i in include):
            raise InvalidRequest("include must be a list of include paths such as 'reasoning.encrypted_content'",
                                 param="include")
        settings["include"] = list(include)
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict):
        kept = {key: _word(reasoning[key], allowed, f"reasoning.{key}")
                for key, allowed in _REASONING.items() if reasoning.get(key) is not None}
        if kept:
            settings["reasoning"] = kept
    text = body.get("text")
    if isinstance(text, dict) and text.get("verbosity") is not None:
        settings["text"] = {"verbosity": _word(text["verbosity"], _VERBOSITY, "text.verbosity")}
    return settings
