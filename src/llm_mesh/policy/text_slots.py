"""Every text of a chat request that leaves the mesh, as (text, slot), and the request
rebuilt from rewritten texts: what the screen stage scans and redacts."""

from __future__ import annotations

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
