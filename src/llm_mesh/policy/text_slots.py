"""Every text of a chat request that leaves the mesh, as (text, slot), and the request
rebuilt from rewritten texts: what the screen stage scans and redacts."""

from __future__ import annotations

import re
from typing import Any

from llm_mesh.wire.openai_chat import ChatCompletionRequest


def _message_texts(request: ChatCompletionRequest) -> tuple[list[str], list[tuple[int, str, int]]]:
    """Every text of the request with its slot: (message index, field, part or tool-call index)."""
    texts: list[str] = []
    slots: list[tuple[int, str, int]] = []
    for i, message in enumerate(request.messages):
        content = message.content
        if isinstance(content, str):
            if content:
                texts.append(content)
                slots.append((i, "content", -1))
        elif content:
            for j, part in enumerate(content):
                text = getattr(part, "text", None)
                if isinstance(text, str) and text:
                    texts.append(text)
                    slots.append((i, "part", j))
        for j, call in enumerate(getattr(message, "tool_calls", None) or ()):
            if call.function.arguments:
                texts.append(call.function.arguments)
                slots.append((i, "tool_call", j))
    return texts, slots


def _rebuild(request: ChatCompletionRequest, slots: list[tuple[int, str, int]], old: list[str], new: list[str]) -> ChatCompletionRequest:
    changed: dict[int, list[tuple[str, int, str]]] = {}
    for (i, kind, j), before, after in zip(slots, old, new):
        if before != after:
            changed.setdefault(i, []).append((kind, j, after))
    if not changed:
        return request
    messages = list(request.messages)
    for i, edits in changed.items():
        message = messages[i]
        update: dict[str, Any] = {}
        parts = list(message.content) if isinstance(message.content, list) else None
        calls = list(message.tool_calls) if getattr(message, "tool_calls", None) else None  # type: ignore[union-attr]
        for kind, j, text in edits:
            if kind == "content":
                update["content"] = text
            elif kind == "part" and parts is not None:
                parts[j] = parts[j].model_copy(update={"text": text})
                update["content"] = parts
            elif kind == "tool_call" and calls is not None:
                call = calls[j]
                calls[j] = call.model_copy(update={"function": call.function.model_copy(update={"arguments": text})})
                update["tool_calls"] = calls
        messages[i] = message.model_copy(update=update)
    return request.model_copy(update={"messages": messages})


# ----------------------------------------------------------------------------- fields outside message text

# Keys whose values are protocol words, not text anyone wrote: never scanned.
_PROTOCOL_KEYS = frozenset({"model", "type", "role", "detail", "format", "$ref", "$schema", "pattern", "strict",
                            "stream", "additionalProperties"})
# Keys that hold base64 payloads (files, audio): scanning them finds noise, not PII.
_PAYLOAD_KEYS = frozenset({"file_data", "data"})

FieldPath = tuple[Any, ...]
# Maps whose keys are data someone wrote, not protocol: JSON schema property names, metadata keys.
_FREE_KEY_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas",
                            "dependentRequired", "metadata"})


_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_.:-]")


class KeyOf(str):
    """The last step of a path that names a dict key itself (to rename), not its value."""


def _is_message_text(path: FieldPath) -> bool:
    """Message text and tool-call arguments: the typed slots above already cover them."""
    if len(path) < 3 or path[0] != "messages":
        return False
    tail = path[2:]
    return (tail == ("content",) or (len(tail) == 3 and tail[0] == "content" and tail[2] == "text")
            or (len(tail) == 4 and tail[0] == "tool_calls" and tail[2:] == ("function", "arguments")))


def _walk(value: Any, path: FieldPath, out: list[tuple[FieldPath, str]]) -> None:
    if isinstance(value, str):
        if value and not value.startswith("data:") and not _is_message_text(path):
            out.append((path, value))
    elif isinstance(value, dict):
        free = bool(path) and path[-1] in _FREE_KEY_MAPS
        for key, item in value.items():
            if free:  # the value first, the key after: renaming the key must not break the value's path
                _walk(item, path + (key,), out)
                if isinstance(key, str) and key:
                    out.append((path + (KeyOf(key),), key))
            elif key not in _PROTOCOL_KEYS and key not in _PAYLOAD_KEYS:
                _walk(item, path + (key,), out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, path + (index,), out)


def field_texts(request: ChatCompletionRequest) -> tuple[dict[str, Any], list[tuple[FieldPath, str]]]:
    """Every other string that leaves the mesh with the request: ``user``, ``stop``, metadata,
    message names, refusals, tool-call ids and names, image URLs, file names, tool
    descriptions and JSON schemas (property names too), ``response_format`` schemas, metadata
    keys and values, and any extra field a client sent. Returns the request as a dict (for rebuilding) and (path, text) pairs."""
    data = request.model_dump(by_alias=True, exclude_none=True)
    found: list[tuple[FieldPath, str]] = []
    _walk(data, (), found)
    return data, found


def _rename(target: dict[str, Any], old: str, new: str) -> None:
    """Rename a key in place, keeping the order; a clash (two keys masked alike) gets a suffix."""
    name, n = new, 1
    while name in target and name != old:
        n += 1
        name = f"{new}_{n}"
    items = [(name if k == old else k, v) for k, v in target.items()]
    target.clear()
    target.update(items)


def rebuild_fields(data: dict[str, Any], edits: list[tuple[FieldPath, str]]) -> ChatCompletionRequest:
    for path, text in edits:
        target: Any = data
        for key in path[:-1]:
            target = target[key]
        if isinstance(path[-1], KeyOf):
            # metadata keys become request tags, whose keys are letters, digits and _.:- only
            _rename(target, str(path[-1]), (_TAG_UNSAFE.sub("", text) or "redacted") if path[-2] == "metadata" else text)
        else:
            target[path[-1]] = text
    return ChatCompletionRequest.model_validate(data)
