"""A loopback fake of Snowflake Cortex's Chat Completions endpoint, on the scripted upstream.

``POST /api/v2/cortex/v1/chat/completions`` with ``Authorization: Bearer`` and
``X-Snowflake-Authorization-Token-Type``; OpenAI-shaped completions whose usage adds
``guard_tokens``; Snowflake REST error bodies ``{"code", "message", "request_id"}``.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.azure_openai_upstream import ScriptedUpstream, openai_like_chat

CHAT_PATH = "/api/v2/cortex/v1/chat/completions"


def cortex_completion(content: str | None = "Hello from Cortex", tool_calls: list[dict[str, Any]] | None = None,
                      finish_reason: str = "stop") -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {"id": "a1b2c3", "object": "chat.completion", "created": 1750000000, "model": "claude-sonnet-4-5",
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": 14, "completion_tokens": 4, "guard_tokens": 0, "total_tokens": 18,
                      "prompt_tokens_details": {"cached_tokens": 10}}}


def cortex_chunks(pieces: tuple[str, ...] = ("Snow", "fall"), tool_call: dict[str, Any] | None = None) -> list[Any]:
    head = {"id": "a1b2c4", "object": "chat.completion.chunk", "created": 1750000001, "model": "claude-sonnet-4-5"}
    out: list[Any] = [{**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                            "finish_reason": None}]}]
    if tool_call is not None:
        out.append({**head, "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": tool_call["id"],
                    "type": "function", "function": {"name": tool_call["name"], "arguments": ""}}]},
                    "finish_reason": None}]})
        out.append({**head, "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {
                    "arguments": tool_call["arguments"]}}]}, "finish_reason": None}]})
    else:
        out += [{**head, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]} for p in pieces]
    out.append({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls" if tool_call else "stop"}]})
    out.append({**head, "choices": [], "usage": {"prompt_tokens": 14, "completion_tokens": 2, "guard_tokens": 0,
                                                 "total_tokens": 16}})
    return out


def snowflake_error(message: str, code: str = "399504") -> dict[str, Any]:
    return {"code": code, "message": message, "request_id": "01bc-0000-4dcf"}


class FakeCortex(ScriptedUpstream):
    def serve(self, tool_call: dict[str, Any] | None = None) -> "FakeCortex":
        self.on(CHAT_PATH, openai_like_chat(cortex_completion, cortex_chunks, tool_call))
        return self
