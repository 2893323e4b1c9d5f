"""A loopback fake of Hugging Face TGI (Messages API) and TEI, on the scripted upstream.

Shapes from TGI's router: completions and chunks are OpenAI's with TGI's
``system_fingerprint`` ("3.x-native") and finish reasons like ``eos_token``;
errors are ``{"error": "...", "error_type": "..."}`` (422 validation, 424
generation, 429 overloaded); a failure mid-stream is one ``data:`` event with that
body; TEI ``/embed`` answers a bare array of vectors.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.azure_openai_upstream import Recorded, Reply, ScriptedUpstream, json_reply, openai_like_chat


def tgi_completion(content: str | None = "Hello from TGI", tool_calls: list[dict[str, Any]] | None = None,
                   finish_reason: str = "eos_token") -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {"object": "chat.completion", "id": "", "created": 1732000000, "model": "meta-llama/Llama-3.1-8B-Instruct",
            "system_fingerprint": "3.0.1-native",
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": 21, "completion_tokens": 5, "total_tokens": 26}}


def tgi_chunks(pieces: tuple[str, ...] = ("Hel", "lo"), tool_call: dict[str, Any] | None = None,
               usage: bool = True) -> list[dict[str, Any]]:
    head = {"object": "chat.completion.chunk", "id": "", "created": 1732000001,
            "model": "meta-llama/Llama-3.1-8B-Instruct", "system_fingerprint": "3.0.1-native"}
    out = []
    if tool_call is not None:
        out.append({**head, "choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [
            {"index": 0, "id": tool_call["id"], "type": "function",
             "function": {"name": tool_call["name"], "arguments": ""}}]}, "logprobs": None, "finish_reason": None}]})
        out.append({**head, "choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [
            {"index": 0, "function": {"arguments": tool_call["arguments"]}}]}, "logprobs": None,
            "finish_reason": None}]})
        finish = "tool_calls"
    else:
        for piece in pieces:
            out.append({**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": piece},
                                             "logprobs": None, "finish_reason": None}]})
        finish = "eos_token"
    out.append({**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None,
                                     "finish_reason": finish}],
                "usage": {"prompt_tokens": 21, "completion_tokens": 2, "total_tokens": 23} if usage else None})
    return out


def tgi_error(message: str, error_type: str) -> dict[str, str]:
    return {"error": message, "error_type": error_type}


OVERFLOW = ("Input validation error: `inputs` tokens + `max_new_tokens` must be <= 8192. "
            "Given: 8000 `inputs` tokens and 500 `max_new_tokens`")


class FakeTGI(ScriptedUpstream):
    """Serves chat (JSON or SSE by the stream flag), /v1/embeddings and TEI /embed."""

    def serve(self, tool_call: dict[str, Any] | None = None) -> "FakeTGI":
        def embed(request: Recorded) -> Reply:
            inputs = request.json["inputs"]
            return json_reply([[0.5, 0.25, 0.125] for _ in (inputs if isinstance(inputs, list) else [inputs])])

        self.on("/v1/chat/completions", openai_like_chat(tgi_completion, tgi_chunks, tool_call, "eos_token"))
        self.on("/embed", embed)
        return self
