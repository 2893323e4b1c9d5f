"""A loopback fake of Azure OpenAI, built on a small scripted HTTP upstream.

``ScriptedUpstream`` is a threaded HTTP/1.1 server on 127.0.0.1 that records every
request (method, path, query, headers, JSON body) and answers from a script: per
path, a queue of replies (the last one repeats) or a callable. A reply is JSON with
a status and headers, or an SSE stream of frames that may end cleanly, end without
its terminal event, or drop the connection mid-body. The other OpenAI-like fakes
(Snowflake, Hugging Face) and the Mistral/AI21/Databricks tests script it with their
providers' exact bodies.

``FakeAzureOpenAI`` adds Azure OpenAI's documented shapes: deployments under
``/openai/deployments/{deployment}/chat/completions?api-version=...`` (and the v1
API under ``/openai/v1/...``), ``prompt_filter_results`` / ``content_filter_results``
annotations, the first stream chunk with ``choices: []`` carrying only prompt
filter results, the content-filter error (400, ``code: content_filter`` with
``innererror.code: ResponsibleAIPolicyViolation``), and an Entra ID token endpoint
(``/{tenant}/oauth2/v2.0/token``) for the client-credentials grant.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs

__all__ = ["Reply", "Recorded", "ScriptedUpstream", "FakeAzureOpenAI", "sse_reply", "json_reply"]


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-serialisable, or bytes sent verbatim
    headers: dict[str, str] = field(default_factory=dict)
    events: list[str] | None = None  # SSE: each item is a complete frame ("data: ...\n\n" or with "event:")
    end: str = "ok"  # ok | clean (ends the body before the remaining frames) | drop (closes mid-body)
    cut_after: int | None = None  # with end != ok: how many frames are sent


def json_reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status=status, body=body, headers=dict(headers or {}))


def sse_reply(payloads: list[Any], *, done: bool = True, event: str | None = None, cut_after: int | None = None,
              end: str = "ok") -> Reply:
    """Frames ``data: <json>`` (optionally ``event:`` named) and a final ``data: [DONE]``."""
    frames = []
    for payload in payloads:
        data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
        frames.append((f"event: {event}\n" if event else "") + f"data: {data}\n\n")
    if done:
        frames.append("data: [DONE]\n\n")
    return Reply(events=frames, cut_after=cut_after, end=end if cut_after is not None else "ok")


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw) if self.raw else None

    @property
    def form(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(self.raw.decode()).items()}


Handler = Callable[[Recorded], Reply]


class ScriptedUpstream:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._script: dict[str, list[Reply] | Handler] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ script
    def on(self, path: str, *replies: Reply | Handler) -> "ScriptedUpstream":
        """Answer ``path`` with these replies in order (the last repeats), or with a callable."""
        with self._lock:
            if len(replies) == 1 and callable(replies[0]) and not isinstance(replies[0], Reply):
                self._script[path] = replies[0]  # type: ignore[assignment]
            else:
                self._script[path] = list(replies)  # type: ignore[arg-type]
        return self

    def requests_to(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    def _reply_for(self, request: Recorded) -> Reply:
        with self._lock:
            self.requests.append(request)
            script = self._script.get(request.path)
            if script is None:
                return json_reply({"error": {"message": f"no route {request.path}", "code": "404"}}, 404)
            if callable(script):
                handler = script
            else:
                reply = script.pop(0) if len(script) > 1 else script[0]
                return reply
        return handler(request)

    # ------------------------------------------------------------------ server
    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "ScriptedUpstream":
        upstream = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                self._handle("POST")

            def do_GET(self) -> None:  # noqa: N802
                self._handle("GET")

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                path, _, query = self.path.partition("?")
                recorded = Recorded(
                    method, path, parse_qs(query), {k.lower(): v for k, v in self.headers.items()}, raw
                )
                reply = upstream._reply_for(recorded)
                if reply.events is None:
                    body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_response(reply.status)
                self.send_header("content-type", "text/event-stream")
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                frames = reply.events if reply.cut_after is None else reply.events[: reply.cut_after]
                for frame in frames:
                    data = frame.encode()
                    self.wfile.write(b"%x\r\n%b\r\n" % (len(data), data))
                    self.wfile.flush()
                if reply.end == "drop":
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                self.wfile.write(b"0\r\n\r\n")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> "ScriptedUpstream":
        return self.start() if self._server is None else self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def openai_like_chat(completion: Callable[..., dict[str, Any]], chunks: Callable[..., list[Any]],
                     tool_call: dict[str, Any] | None, text_finish: str = "stop") -> Handler:
    """A chat handler answering JSON or SSE by the body's ``stream`` flag, calling the tool when tools are sent.

    ``completion(content, tool_calls, finish_reason)`` and ``chunks(tool_call=...)`` build the provider's shapes.
    """
    def handle(request: Recorded) -> Reply:
        body = request.json
        call = tool_call if body.get("tools") and body.get("tool_choice") != "none" else None
        if body.get("stream"):
            return sse_reply(chunks(tool_call=call))
        if call is None:
            return json_reply(completion(finish_reason=text_finish))
        calls = [{"id": call["id"], "type": "function", "function": {"name": call["name"], "arguments": call["arguments"]}}]
        return json_reply(completion(content=None, tool_calls=calls, finish_reason="tool_calls"))

    return handle


async def drain(stream: Any) -> list[Any]:
    """Every chunk of an async iterator (raises what it raises)."""
    return [chunk async for chunk in stream]


# --------------------------------------------------------------------------- Azure OpenAI

_SAFE = {"filtered": False, "severity": "safe"}
CONTENT_FILTER_RESULTS = {"hate": _SAFE, "self_harm": _SAFE, "sexual": _SAFE, "violence": _SAFE}
PROMPT_FILTER_RESULTS = [
    {
        "prompt_index": 0,
        "content_filter_results": {
            **CONTENT_FILTER_RESULTS,
            "jailbreak": {"filtered": False, "detected": False},
        },
    }
]


def azure_completion(model: str = "gpt-4o-2024-08-06", content: str | None = "Hello from Azure",
                     tool_calls: list[dict[str, Any]] | None = None, finish_reason: str = "stop",
                     usage: dict[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-AZ1",
        "object": "chat.completion",
        "created": 1727000000,
        "model": model,
        "prompt_filter_results": PROMPT_FILTER_RESULTS,
        "choices": [
            {
                "index": 0,
                "finish_reason": finish_reason,
                "logprobs": None,
                "message": message,
                "content_filter_results": {} if finish_reason == "tool_calls" else CONTENT_FILTER_RESULTS,
            }
        ],
        "usage": usage
        or {
            "prompt_tokens": 12,
            "completion_tokens": 4,
            "total_tokens": 16,
            "prompt_tokens_details": {"cached_tokens": 8, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
        "system_fingerprint": "fp_azure",
    }


def azure_stream_chunks(model: str = "gpt-4o-2024-08-06", pieces: tuple[str, ...] = ("Hel", "lo"),
                        tool_call: dict[str, Any] | None = None, finish_reason: str = "stop",
                        include_usage: bool = True) -> list[dict[str, Any]]:
    """Azure's stream: a prompt-filter chunk with empty id/model, role, deltas, finish, usage."""
    def chunk(delta: dict[str, Any], finish: str | None = None, filters: bool = True) -> dict[str, Any]:
        choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        if filters:
            choice["content_filter_results"] = CONTENT_FILTER_RESULTS
        out = {"id": "chatcmpl-AZ2", "object": "chat.completion.chunk", "created": 1727000001, "model": model,
               "system_fingerprint": "fp_azure", "choices": [choice]}
        if include_usage:
            out["usage"] = None
        return out

    chunks: list[dict[str, Any]] = [
        {"choices": [], "created": 0, "id": "", "model": "", "object": "", "prompt_filter_results": PROMPT_FILTER_RESULTS}
    ]
    chunks.append(chunk({"role": "assistant", "content": "", "refusal": None}, filters=False))
    if tool_call is not None:
        name, arguments = tool_call["name"], tool_call["arguments"]
        chunks.append(chunk({"tool_calls": [{"index": 0, "id": tool_call["id"], "type": "function",
                                             "function": {"name": name, "arguments": ""}}]}, filters=False))
        half = len(arguments) // 2
        for part in (arguments[:half], arguments[half:]):
            chunks.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": part}}]}, filters=False))
    for piece in pieces if tool_call is None else ():
        chunks.append(chunk({"content": piece}))
    chunks.append(chunk({}, finish_reason, filters=False))
    if include_usage:
        chunks.append({"id": "chatcmpl-AZ2", "object": "chat.completion.chunk", "created": 1727000001, "model": model,
                       "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11,
                                                "prompt_tokens_details": {"cached_tokens": 0}}})
    return chunks


def content_filter_error() -> dict[str, Any]:
    return {
        "error": {
            "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management "
            "policy. Please modify your prompt and retry.",
            "type": None,
            "param": "prompt",
            "code": "content_filter",
            "status": 400,
            "innererror": {
                "code": "ResponsibleAIPolicyViolation",
                "content_filter_result": {
                    "hate": {"filtered": False, "severity": "safe"},
                    "jailbreak": {"filtered": True, "detected": True},
                    "self_harm": {"filtered": False, "severity": "safe"},
                    "sexual": {"filtered": False, "severity": "safe"},
                    "violence": {"filtered": True, "severity": "medium"},
                },
            },
        }
    }


def rate_limit_error() -> dict[str, Any]:
    return {"error": {"code": "429", "message": "Requests to the ChatCompletions_Create Operation under Azure OpenAI "
                      "API version 2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. "
                      "Please retry after 7 seconds."}}


def context_length_error() -> dict[str, Any]:
    return {"error": {"message": "This model's maximum context length is 128000 tokens. However, your messages "
                      "resulted in 130512 tokens. Please reduce the length of the messages.",
                      "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}}


def azure_embeddings(count: int, dims: int = 3) -> dict[str, Any]:
    return {"object": "list", "model": "text-embedding-3-small",
            "data": [{"object": "embedding", "index": i, "embedding": [0.1 * (i + 1)] * dims} for i in range(count)],
            "usage": {"prompt_tokens": 5, "total_tokens": 5}}


class FakeAzureOpenAI(ScriptedUpstream):
    """Azure OpenAI answering per deployment: chat (JSON or SSE by the body's stream flag), embeddings, Entra."""

    API_VERSION = "2024-10-21"

    def serve_deployment(self, deployment: str, *, tool_call: dict[str, Any] | None = None) -> "FakeAzureOpenAI":
        def chat(request: Recorded) -> Reply:
            if request.query.get("api-version") != [self.API_VERSION]:
                return json_reply({"error": {"code": "404", "message": "Resource not found"}}, 404)
            body = request.json
            call = tool_call if body.get("tools") and body.get("tool_choice") != "none" else None
            if body.get("stream"):
                include = bool((body.get("stream_options") or {}).get("include_usage"))
                return sse_reply(azure_stream_chunks(tool_call=call, include_usage=include,
                                                     finish_reason="tool_calls" if call else "stop"))
            calls = [{"id": call["id"], "type": "function",
                      "function": {"name": call["name"], "arguments": call["arguments"]}}] if call else None
            return json_reply(azure_completion(content=None if call else "Hello from Azure", tool_calls=calls,
                                               finish_reason="tool_calls" if call else "stop"))

        def embeddings(request: Recorded) -> Reply:
            inputs = request.json["input"]
            return json_reply(azure_embeddings(len(inputs) if isinstance(inputs, list) else 1))

        self.on(f"/openai/deployments/{deployment}/chat/completions", chat)
        self.on(f"/openai/deployments/{deployment}/embeddings", embeddings)
        return self

    def serve_entra(self, tenant: str, token: str = "entra-token-1", expires_in: int = 3599) -> "FakeAzureOpenAI":
        self.on(f"/{tenant}/oauth2/v2.0/token", json_reply(
            {"token_type": "Bearer", "expires_in": expires_in, "ext_expires_in": expires_in, "access_token": token}
        ))
        return self
