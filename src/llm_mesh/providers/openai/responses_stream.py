"""An upstream's native Responses SSE events -> the canonical chat chunks.

``response.output_text.delta`` becomes a content delta, ``response.refusal.delta`` a
refusal delta, a ``function_call`` output item its tool-call opener and
``response.function_call_arguments.delta`` its argument fragments; ``response.completed``
(or ``response.incomplete``) gives the finish reason and the usage chunk, as the upstream
counted it. ``response.failed`` and ``error`` events are upstream errors. Other events
(reasoning summaries, ``*.done`` echoes) carry nothing the canonical stream needs.
"""

from __future__ import annotations

import time
from typing import Any

from llm_mesh.errors import UpstreamError
from llm_mesh.providers.openai.translate_openai_responses import finish_reason, usage_of
from llm_mesh.wire.openai_chat import ChatCompletionChunk

_TERMINAL = ("response.completed", "response.incomplete")


class ResponsesStreamReader:
    """Feed one parsed event at a time; ``done`` once a terminal event arrived."""

    def __init__(self, provider: str, model: str) -> None:
        self._provider = provider
        self._head: dict[str, Any] = {"id": "resp", "object": "chat.completion.chunk", "created": int(time.time()),
                                      "model": model}
        self._calls: dict[int, int] = {}  # output_index -> tool-call index
        self._role_sent = False
        self.done = False

    def _chunk(self, delta: dict[str, Any], finish: str | None = None, usage: Any = None) -> ChatCompletionChunk:
        if not self._role_sent:
            delta = {"role": "assistant", **delta}
            self._role_sent = True
        choices = [{"index": 0, "delta": delta, "finish_reason": finish}]
        return ChatCompletionChunk.model_validate({**self._head, "choices": choices})

    def feed(self, event: Any) -> list[ChatCompletionChunk]:
        if not isinstance(event, dict):
            raise ValueError("event is not an object")
        kind = event.get("type")
        if kind == "response.created":
            response = event.get("response") or {}
            self._head.update(id=response.get("id") or "resp", model=response.get("model") or self._head["model"],
                              created=int(response.get("created_at") or self._head["created"]))
            return []
        if kind == "response.output_text.delta":
            return [self._chunk({"content": event.get("delta") or ""})]
        if kind == "response.refusal.delta":
            return [self._chunk({"refusal": event.get("delta") or ""})]
        if kind == "response.output_item.added":
            return self._item_added(event)
        if kind == "response.function_call_arguments.delta":
            index = self._calls.get(event.get("output_index"))
            if index is None:
                raise ValueError("arguments for an unknown function call")
            return [self._chunk({"tool_calls": [{"index": index, "function": {"arguments": event.get("delta") or ""}}]})]
        if kind in _TERMINAL:
            return self._finish(event.get("response") or {})
        if kind in ("response.failed", "error"):
            raise UpstreamError(f"provider {self._provider} reported an error mid-stream")
        return []

    def _item_added(self, event: dict[str, Any]) -> list[ChatCompletionChunk]:
        item = event.get("item") or {}
        if item.get("type") != "function_call":
            return []
        index = len(self._calls)
        self._calls[event.get("output_index", index)] = index
        opener = {"index": index, "id": item.get("call_id") or item.get("id") or "", "type": "function",
                  "function": {"name": item.get("name", ""), "arguments": ""}}
        return [self._chunk({"tool_calls": [opener]})]

    def _finish(self, response: dict[str, Any]) -> list[ChatCompletionChunk]:
        self.done = True
        finish = finish_reason(response, bool(self._calls))
        chunks = [self._chunk({}, finish)]
        usage = usage_of(response.get("usage"))
        if usage is not None:
            chunks.append(ChatCompletionChunk.model_validate({**self._head, "choices": [], "usage": usage}))
        return chunks
