"""A loopback fake of Cohere's v2 API: ``POST /v2/chat`` (JSON, or SSE when ``stream``) and ``POST /v2/embed``.

Streams follow Cohere's documented framing: every event is ``event: <type>`` plus
``data: <json with the same "type">``: message-start, content-start, content-delta...,
content-end, or tool-plan-delta..., tool-call-start, tool-call-delta..., tool-call-end
(repeated per call), then message-end carrying ``finish_reason`` and ``usage``, and a
final ``data: [DONE]``. Errors are ``{"message": ...}`` with Cohere's statuses.

Behaviour is chosen by words in the model name (so it works behind the mesh):
``rate-limit`` (429 + Retry-After), ``too-long`` (400 "too many tokens"), ``blocked``
(498 usage-policy block), ``cut`` (stream ends before message-end), ``abort`` (the
connection drops mid-chunk), ``error-finish`` (message-end with finish_reason ERROR),
``parallel`` (two tool calls), ``cached`` (usage.cached_tokens). Otherwise it answers
"Hello from <model>! You said: <last user text>", calls the first tool when tools are
given and tool_choice is not NONE (with a tool_plan), or summarises tool results when
the last message is a tool message.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.fakes._http import LoopbackUpstream, Recorded, Reply, vector, words


def _sample_args(schema: dict[str, Any]) -> dict[str, Any]:
    samples = {"string": "Paris", "integer": 1, "number": 1.5, "boolean": True}
    props = schema.get("properties") or {}
    return {name: samples.get(str(props[name].get("type", ""))) for name in schema.get("required") or [] if name in props}


class CohereUpstream(LoopbackUpstream):
    def __init__(self, api_key: str = "test-cohere-key") -> None:
        super().__init__()
        self.api_key = api_key

    def _handle(self, req: Recorded) -> Reply:
        if req.headers.get("authorization") != f"Bearer {self.api_key}":
            return Reply(401, {"id": uuid.uuid4().hex, "message": "invalid api token"})
        body = req.body if isinstance(req.body, dict) else {}
        if req.path == "/v2/chat":
            return self._chat(body)
        if req.path == "/v2/embed":
            return self._embed(body)
        return Reply(404, {"message": f"{req.path} not found"})

    # ------------------------------------------------------------ chat
    def _chat(self, body: dict[str, Any]) -> Reply:
        model = str(body.get("model", ""))
        messages = body.get("messages")
        if not model or not isinstance(messages, list) or not messages:
            return Reply(400, {"id": uuid.uuid4().hex, "message": "invalid request: messages must not be empty"})
        if "rate-limit" in model:
            return Reply(429, {"id": uuid.uuid4().hex,
                               "message": "You are using a Trial key, which is limited to 20 API calls / minute."},
                         headers={"retry-after": "11"})
        if "too-long" in model:
            return Reply(400, {"id": uuid.uuid4().hex, "message":
                               "too many tokens: total number of tokens in the prompt cannot exceed 128000 - received "
                               "140211. Try using a shorter prompt or a model with a larger context window."})
        if "blocked" in model:
            return Reply(498, {"id": uuid.uuid4().hex, "message":
                               "blocked output: please adjust your prompt and try again, as this request violates our "
                               "usage policy"})
        reply = self._reply(model, body)
        if body.get("stream"):
            return self._stream(model, reply)
        message: dict[str, Any] = {"role": "assistant"}
        if reply["text"]:
            message["content"] = [{"type": "text", "text": reply["text"]}]
        if reply["calls"]:
            message["tool_plan"] = reply["plan"]
            message["tool_calls"] = reply["calls"]
        return Reply(200, {"id": reply["id"], "message": message, "finish_reason": reply["finish"],
                           "usage": reply["usage"]})

    def _reply(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        messages = body["messages"]
        last = messages[-1]
        tools = body.get("tools") or []
        text, plan, calls, finish = "", "", [], "COMPLETE"
        if last.get("role") == "tool":
            results = [m for m in messages if m.get("role") == "tool"]
            text = "Tool results: " + "; ".join(f"{m['tool_call_id']}={m['content']}" for m in results)
        elif tools and body.get("tool_choice") != "NONE":
            plan = "I will call a tool to answer this."
            for tool in tools[: 2 if "parallel" in model else 1]:
                fn = tool["function"]
                calls.append({"id": f"{fn['name']}_{uuid.uuid4().hex[:12]}", "type": "function",
                              "function": {"name": fn["name"],
                                           "arguments": json.dumps(_sample_args(fn.get("parameters") or {}))}})
            finish = "TOOL_CALL"
        else:
            content = last.get("content")
            user_text = content if isinstance(content, str) else " ".join(
                p.get("text", "") for p in content or [] if p.get("type") == "text")
            if (body.get("response_format") or {}).get("type") == "json_object":
                text = json.dumps({"answer": f"Hello from {model}", "echo": user_text})
            else:
                text = f"Hello from {model}! You said: {user_text}"
            limit = body.get("max_tokens")
            if limit is not None and words(text) > limit:
                text = " ".join(text.split()[:limit])
                finish = "MAX_TOKENS"
        if "error-finish" in model:
            finish = "ERROR"
        prompt = sum(words(m["content"]) for m in messages if isinstance(m.get("content"), str))
        output = words(text) + words(plan) + 5 * len(calls)
        usage: dict[str, Any] = {"billed_units": {"input_tokens": prompt, "output_tokens": output},
                                 "tokens": {"input_tokens": prompt + 200, "output_tokens": output + 2}}
        if "cached" in model:
            usage["cached_tokens"] = 64
        return {"id": str(uuid.uuid4()), "text": text, "plan": plan, "calls": calls, "finish": finish, "usage": usage}

    @staticmethod
    def _event(kind: str, payload: dict[str, Any]) -> bytes:
        return f"event: {kind}\ndata: {json.dumps({'type': kind, **payload})}\n\n".encode()

    def _stream(self, model: str, reply: dict[str, Any]) -> Reply:
        ev = self._event
        frames = [ev("message-start", {"id": reply["id"], "delta": {"message": {
            "role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}}})]
        if reply["calls"]:
            for piece in reply["plan"].split(" "):
                frames.append(ev("tool-plan-delta", {"delta": {"message": {"tool_plan": piece + " "}}}))
            for index, call in enumerate(reply["calls"], start=1):
                frames.append(ev("tool-call-start", {"index": index, "delta": {"message": {"tool_calls": {
                    "id": call["id"], "type": "function",
                    "function": {"name": call["function"]["name"], "arguments": ""}}}}}))
                arguments = call["function"]["arguments"]
                for start in range(0, len(arguments), 5):
                    frames.append(ev("tool-call-delta", {"index": index, "delta": {"message": {"tool_calls": {
                        "function": {"arguments": arguments[start:start + 5]}}}}}))
                frames.append(ev("tool-call-end", {"index": index}))
        else:
            frames.append(ev("content-start", {"index": 0, "delta": {"message": {"content": {"type": "text", "text": ""}}}}))
            tokens = reply["text"].split(" ")
            for i, token in enumerate(tokens):
                piece = token + (" " if i < len(tokens) - 1 else "")
                frames.append(ev("content-delta", {"index": 0, "delta": {"message": {"content": {"text": piece}}}}))
            frames.append(ev("content-end", {"index": 0}))
        end: dict[str, Any] = {"finish_reason": reply["finish"], "usage": reply["usage"]}
        if reply["finish"] == "ERROR":
            end["error"] = "internal generation failure"
        frames.append(ev("message-end", {"delta": end}))
        frames.append(b"data: [DONE]\n\n")
        if "cut" in model:
            return Reply(sse=frames[: len(frames) // 2])
        if "abort" in model:
            return Reply(sse=frames, abort_after=len(frames) // 2)
        return Reply(sse=frames)

    # ------------------------------------------------------------ embed
    def _embed(self, body: dict[str, Any]) -> Reply:
        model, texts = body.get("model"), body.get("texts")
        if not model or not isinstance(texts, list) or not texts:
            return Reply(400, {"message": "invalid request: texts must be a non-empty list"})
        if body.get("input_type") not in ("search_document", "search_query", "classification", "clustering"):
            return Reply(400, {"message": "invalid request: input_type is required for embed models v3 and higher"})
        if body.get("embedding_types") != ["float"]:
            return Reply(400, {"message": "this fake only serves float embeddings"})
        if "rate-limit" in str(model):
            return Reply(429, {"message": "rate limit exceeded"}, headers={"retry-after": "4"})
        dims = int(body.get("output_dimension") or 8)
        return Reply(200, {
            "id": str(uuid.uuid4()),
            "embeddings": {"float": [vector(t, dims) for t in texts]},
            "texts": texts,
            "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": sum(words(t) for t in texts)}},
            "response_type": "embeddings_by_type",
        })
