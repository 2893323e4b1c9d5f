"""Responses API items at rest: chat messages (as they went upstream) back into items, the
policy's placeholders put back into what the client got, and the ``input_items`` list page.

Item shapes follow ``openai.types.responses.ResponseItem``: ``ResponseInputMessageItem``
(user/system/developer with input_text/input_image parts), ``ResponseOutputMessage``
(assistant, output_text), ``ResponseFunctionToolCallItem`` and
``ResponseFunctionToolCallOutputItem``; every item has an id and a status.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from llm_mesh.errors import InvalidRequest
from llm_mesh.wire.responses_input import input_parts as _input_parts

_ID = re.compile(r"[A-Za-z0-9_\-]{1,128}")


def new_item_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def check_id(value: Any, param: str, prefix: str = "resp_") -> str:
    if not isinstance(value, str) or not value.startswith(prefix) or not _ID.fullmatch(value):
        raise InvalidRequest(f"{param} must be an id starting with {prefix!r} (letters, digits, '_' and '-')",
                             param=param, code="invalid_id")
    return value


def as_items(input_value: Any) -> list[dict[str, Any]]:
    """A request's ``input``: a string is one user message item."""
    if isinstance(input_value, str):
        return [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": input_value}]}]
    return list(input_value) if isinstance(input_value, list) else input_value


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content or () if isinstance(part, dict))


def items_from_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chat messages -> input items, the inverse of the request translation."""
    items: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role == "tool":
            items.append({"id": new_item_id("fco"), "type": "function_call_output", "call_id": message.get("tool_call_id", ""),
                          "output": _text(message.get("content")), "status": "completed"})
        elif role == "assistant":
            text = _text(message.get("content"))
            if text or not message.get("tool_calls"):
                items.append({"id": new_item_id("msg"), "type": "message", "role": "assistant", "status": "completed",
                              "content": [{"type": "output_text", "text": text, "annotations": []}]})
            for call in message.get("tool_calls") or ():
                function = call.get("function") or {}
                items.append({"id": new_item_id("fc"), "type": "function_call", "call_id": call.get("id", ""),
                              "name": function.get("name", ""), "arguments": function.get("arguments") or "{}",
                              "status": "completed"})
        else:
            items.append({"id": new_item_id("msg"), "type": "message", "role": role, "status": "completed",
                          "content": _input_parts(message.get("content"))})
    return items


def keep_ids(derived: list[dict[str, Any]], given: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items rebuilt from the upstream request keep the ids the caller's items had, when the
    two line up one to one (same count, same types)."""
    if len(derived) != len(given):
        return derived
    for item, original in zip(derived, given):
        if not isinstance(original, dict) or item["type"] != original.get("type", "message"):
            return derived
    for item, original in zip(derived, given):
        if isinstance(original.get("id"), str) and original["id"]:
            item["id"] = original["id"]
    return derived


def screened_settings(upstream: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """The settings a ``Response`` echoes (metadata, user, tools, text format), taken from the
    request as it went upstream: the policy screens those strings too. Only those the caller set."""
    out: dict[str, Any] = {}
    if body.get("metadata") is not None:
        out["metadata"] = upstream.get("metadata") or {}
    if body.get("user") is not None:
        out["user"] = upstream.get("user")
    if body.get("tools"):
        out["tools"] = [{"type": "function", **(tool.get("function") or {})} for tool in upstream.get("tools") or ()]
    response_format = upstream.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        schema = dict(response_format.get("json_schema") or {})
        out["text"] = {**(body.get("text") or {}), "format": {"type": "json_schema", **schema}}
    return out


def placeholders_back(value: Any, vault: Any) -> Any:
    """``value`` with every original the request's vault restored turned back into its
    placeholder: what the client got, as the policy keeps it at rest."""
    if vault is None or not len(vault):
        return value
    table = sorted(((vault.restore(ph), ph) for ph in vault.placeholders), key=lambda pair: -len(pair[0]))
    table = [(original, ph) for original, ph in table if original and original != ph]

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            for original, ph in table:
                if original in node:
                    node = node.replace(original, ph)
            return node
        if isinstance(node, list):
            return [walk(v) for v in node]
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        return node

    return walk(value)


def list_page(items: list[dict[str, Any]], *, order: str, limit: int, after: str | None) -> dict[str, Any]:
    """The ``ResponseItemList`` page: ``order`` asc/desc, ``limit`` items after the item ``after``."""
    ordered = items if order == "asc" else list(reversed(items))
    start = 0
    if after is not None:
        ids = [item.get("id") for item in ordered]
        if after not in ids:
            raise InvalidRequest(f"after: no input item {after!r} in this response", param="after")
        start = ids.index(after) + 1
    data = ordered[start:start + limit]
    return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None, "has_more": start + limit < len(ordered)}
