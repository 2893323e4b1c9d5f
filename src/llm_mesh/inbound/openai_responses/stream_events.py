"""Canonical chat chunks -> the Responses API's typed stream events, in the documented order.

response.created, response.in_progress, then per output item: output_item.added,
(for text) content_part.added, output_text.delta..., output_text.done,
content_part.done, (for a function call) function_call_arguments.delta...,
function_call_arguments.done, then output_item.done; finally response.completed
with the usage. A failure after the stream began ends it with ``error`` then
``response.failed``. Every event carries a growing ``sequence_number``.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable

from llm_mesh.errors import MeshError
from llm_mesh.inbound.openai_responses.translate_responses_chat import (
    function_call_item,
    message_item,
    response_object,
    usage_object,
)
from llm_mesh.wire.openai_chat import ChatCompletionChunk


@dataclass
class _Call:
    output_index: int
    item_id: str
    call_id: str
    name: str
    arguments: list[str] = field(default_factory=list)


@dataclass
class _Emitter:
    response_id: str
    body: dict[str, Any]
    chat: dict[str, Any]
    created_at: float = field(default_factory=time.time)
    sequence: int = 0
    output: list[dict[str, Any]] = field(default_factory=list)

    def event(self, kind: str, **fields: Any) -> bytes:
        payload = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return f"event: {kind}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n".encode()

    def response(self, status: str, usage: Any = None, error: dict[str, Any] | None = None) -> dict[str, Any]:
        return response_object(self.response_id, self.body, self.chat, status=status, output=list(self.output),
                               usage=usage, created_at=self.created_at, error=error)


class _Text:
    """The one assistant message item of a stream, opened at its first text delta."""

    def __init__(self, emitter: _Emitter) -> None:
        self.emitter = emitter
        self.index: int | None = None
        self.item_id = f"msg_{uuid.uuid4().hex}"
        self.parts: list[str] = []

    def delta(self, text: str) -> list[bytes]:
        e = self.emitter
        frames = []
        if self.index is None:
            self.index = len(e.output)
            e.output.append(message_item(self.item_id, "", status="in_progress"))
            frames.append(e.event("response.output_item.added", output_index=self.index, item=e.output[self.index]))
            frames.append(e.event("response.content_part.added", item_id=self.item_id, output_index=self.index,
                                  content_index=0, part={"type": "output_text", "text": "", "annotations": []}))
        self.parts.append(text)
        frames.append(e.event("response.output_text.delta", item_id=self.item_id, output_index=self.index,
                              content_index=0, delta=text, logprobs=[]))
        return frames

    def close(self) -> list[bytes]:
        if self.index is None:
            return []
        e, text = self.emitter, "".join(self.parts)
        e.output[self.index] = message_item(self.item_id, text)
        part = {"type": "output_text", "text": text, "annotations": []}
        return [
            e.event("response.output_text.done", item_id=self.item_id, output_index=self.index, content_index=0,
                    text=text, logprobs=[]),
            e.event("response.content_part.done", item_id=self.item_id, output_index=self.index, content_index=0,
                    part=part),
            e.event("response.output_item.done", output_index=self.index, item=e.output[self.index]),
        ]


def _call_frames(e: _Emitter, calls: dict[int, _Call], delta_calls: Any) -> list[bytes]:
    frames = []
    for call in delta_calls:
        known = calls.get(call.index)
        if known is None:
            function = call.function
            known = calls[call.index] = _Call(len(e.output), f"fc_{uuid.uuid4().hex}", call.id or f"call_{uuid.uuid4().hex}",
                                             (function.name if function else None) or "")
            e.output.append(function_call_item(known.item_id, known.call_id, known.name, "", status="in_progress"))
            frames.append(e.event("response.output_item.added", output_index=known.output_index,
                                  item=e.output[known.output_index]))
        if call.function is not None and call.function.arguments:
            known.arguments.append(call.function.arguments)
            frames.append(e.event("response.function_call_arguments.delta", item_id=known.item_id,
                                  output_index=known.output_index, delta=call.function.arguments))
    return frames


def _close_call(e: _Emitter, call: _Call) -> list[bytes]:
    arguments = "".join(call.arguments)
    e.output[call.output_index] = function_call_item(call.item_id, call.call_id, call.name, arguments)
    return [e.event("response.function_call_arguments.done", item_id=call.item_id, output_index=call.output_index,
                    arguments=arguments),
            e.event("response.output_item.done", output_index=call.output_index, item=e.output[call.output_index])]


async def response_events(response_id: str, body: dict[str, Any], chat: dict[str, Any],
                          chunks: AsyncIterator[ChatCompletionChunk],
                          on_completed: Callable[[dict[str, Any]], None] | None = None) -> AsyncIterator[bytes]:
    """``on_completed`` is given the final ``Response`` object before ``response.completed`` goes out."""
    e = _Emitter(response_id, body, chat)
    yield e.event("response.created", response=e.response("in_progress"))
    yield e.event("response.in_progress", response=e.response("in_progress"))
    text, calls, usage = _Text(e), {}, None
    try:
        async for chunk in chunks:
            if chunk.usage is not None:
                usage = chunk.usage
            for choice in chunk.choices[:1]:  # the Responses API has one output per response
                if choice.delta.content:
                    for frame in text.delta(choice.delta.content):
                        yield frame
                if choice.delta.tool_calls:
                    for frame in _call_frames(e, calls, choice.delta.tool_calls):
                        yield frame
    except MeshError as error:
        failure = {"code": error.code or error.type, "message": error.message}
        yield e.event("error", code=error.code or error.type, message=error.message, param=error.param)
        yield e.event("response.failed", response=e.response("failed", error=failure))
        raise
    for frame in text.close():
        yield frame
    for call in calls.values():
        for frame in _close_call(e, call):
            yield frame
    final = e.response("completed", usage=usage_object(usage))
    if on_completed is not None:
        on_completed(final)
    yield e.event("response.completed", response=final)
