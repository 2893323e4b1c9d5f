"""A loopback fake of Anthropic's Messages API (POST /v1/messages), strict about the wire.

What it checks, as the real API does (https://docs.claude.com/en/api/messages):
- headers ``x-api-key`` (401 authentication_error when wrong) and ``anthropic-version``
  (400 when missing);
- body: ``model``, ``max_tokens`` and a non-empty ``messages`` are required; roles are
  ``user``/``assistant`` only (system goes in the top-level ``system``) and alternate;
  text blocks are non-empty; each assistant ``tool_use`` must be answered by a
  ``tool_result`` at the start of the next user turn; ``tool_choice`` names a declared
  tool. Violations answer 400 ``invalid_request_error``.

What it answers:
- ``Message`` objects: ``"Echo: " + <last user text>`` (or ``"Tool said: <result>"`` after a
  tool result); with tools and ``tool_choice`` any/tool (or auto and ``[tool]`` in the last
  user text) a ``tool_use`` of the chosen tool with input ``{"echo": <text>}``;
  ``output_config.format`` gives JSON text ``{"echo": <text>}``. ``stop_sequences`` and
  ``max_tokens`` (words are tokens) truncate with stop_reason stop_sequence / max_tokens.
  Usage has input/output tokens and ``cache_read_input_tokens`` /
  ``cache_creation_input_tokens`` from the behaviour.
- with ``stream: true`` the documented SSE sequence, every event with its ``event:`` name:
  message_start, content_block_start, ping, content_block_delta (text_delta /
  input_json_delta), content_block_stop, ..., message_delta (stop_reason, usage),
  message_stop.
- errors as ``{"type": "error", "error": {"type", "message"}, "request_id"}`` with the
  documented statuses (429 rate_limit_error with ``retry-after``, 529 overloaded_error...).

Faults per request (first match wins): ``fake.queue(Behaviour(...))``; directives in the
model name (``"claude-x;status=529"``, ``"claude-x;cut_stream_after=3"``); ``fake.behaviour``.
Every request is recorded in ``fake.requests``.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

__all__ = ["Behaviour", "FakeAnthropic", "start_fake_anthropic"]

_STATUS_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
_DEFAULT_MESSAGES = {
    "invalid_request_error": "Invalid request.",
    "authentication_error": "invalid x-api-key",
    "permission_error": "Your API key does not have permission to use the specified resource.",
    "not_found_error": "model: not found",
    "request_too_large": "Request exceeds the maximum allowed number of bytes.",
    "rate_limit_error": "This request would exceed your account's rate limit. Please try again later.",
    "api_error": "Internal server error",
    "overloaded_error": "Overloaded",
}


@dataclass
class Behaviour:
    status: int = 200
    error_type: str | None = None
    error_message: str | None = None
    retry_after: str | None = None
    latency_ms: float = 0.0
    cut_stream_after: int | None = None  # stream: close the connection after N events
    stream_error_after: int | None = None  # stream: after N events send an ``error`` event
    stream_error_type: str = "overloaded_error"
    stop_reason: str | None = None  # force a stop reason (e.g. "refusal")
    content: str | None = None  # reply text instead of the echo
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0


_FIELD_TYPES = {f.name: f.type for f in dataclasses.fields(Behaviour)}


def _directives(model: str) -> tuple[str, dict[str, Any]]:
    if ";" not in model:
        return model, {}
    base, *parts = model.split(";")
    overrides: dict[str, Any] = {}
    for part in parts:
        key, _, raw = part.partition("=")
        kind = _FIELD_TYPES.get(key)
        if kind is None:
            continue
        if "int" in kind:
            overrides[key] = int(raw)
        elif "float" in kind:
            overrides[key] = float(raw)
        else:
            overrides[key] = raw
    return base, overrides


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    json: Any


class WireError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _text_blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return list(content)


def validate_request(body: Any) -> None:
    """The checks the real API applies that matter to a translator."""
    if not isinstance(body, dict):
        raise WireError("body: expected an object")
    for required in ("model", "max_tokens", "messages"):
        if required not in body:
            raise WireError(f"{required}: Field required")
    if not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1:
        raise WireError("max_tokens: must be a positive integer")
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        raise WireError("messages: at least one message is required")
    for key in ("temperature", "top_p"):
        if key in body and not (0 <= body[key] <= 1):
            raise WireError(f"{key}: must be between 0 and 1")
    allowed = {"model", "max_tokens", "messages", "system", "stop_sequences", "temperature", "top_p", "top_k",
               "tools", "tool_choice", "stream", "metadata", "output_config", "thinking", "service_tier"}
    extra = set(body) - allowed
    if extra:
        raise WireError(f"{sorted(extra)[0]}: Extra inputs are not permitted")
    if "system" in body:
        system = body["system"]
        if not isinstance(system, str) and not all(b.get("type") == "text" and b.get("text") for b in system):
            raise WireError("system: text content blocks must be non-empty")
    previous_role = None
    pending_tool_ids: list[str] = []
    for i, message in enumerate(messages):
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise WireError(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        if role == previous_role:
            raise WireError(f"messages: roles must alternate between \"user\" and \"assistant\" (messages.{i})")
        blocks = _text_blocks(message.get("content"))
        if not blocks:
            raise WireError(f"messages.{i}: all messages must have non-empty content")
        if pending_tool_ids:
            leading = []
            for block in blocks:
                if block.get("type") != "tool_result":
                    break
                leading.append(block.get("tool_use_id"))
            if set(leading) != set(pending_tool_ids):
                raise WireError(
                    f"messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: "
                    f"{', '.join(sorted(set(pending_tool_ids) - set(leading)))}. Each `tool_use` block must have "
                    "a corresponding `tool_result` block in the next message."
                )
        pending_tool_ids = []
        for j, block in enumerate(blocks):
            kind = block.get("type")
            if kind == "text" and not block.get("text"):
                raise WireError(f"messages.{i}.content.{j}.text: text content blocks must be non-empty")
            if kind == "tool_use":
                if role != "assistant" or not isinstance(block.get("input"), dict):
                    raise WireError(f"messages.{i}.content.{j}: invalid tool_use block")
                pending_tool_ids.append(block["id"])
            if kind == "tool_result" and role != "user":
                raise WireError(f"messages.{i}.content.{j}: tool_result blocks belong in user messages")
            if kind == "image":
                source = block.get("source", {})
                if source.get("type") == "base64" and source.get("media_type") not in (
                    "image/jpeg", "image/png", "image/gif", "image/webp"
                ):
                    raise WireError(f"messages.{i}.content.{j}.source.media_type: invalid")
                if source.get("type") not in ("base64", "url"):
                    raise WireError(f"messages.{i}.content.{j}.source.type: invalid")
            if kind not in ("text", "image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking"):
                raise WireError(f"messages.{i}.content.{j}.type: unknown block type {kind!r}")
        previous_role = role
    tools = body.get("tools") or []
    names = set()
    for k, tool in enumerate(tools):
        if not tool.get("name") or not isinstance(tool.get("input_schema"), dict):
            raise WireError(f"tools.{k}: name and input_schema are required")
        if set(tool) - {"name", "description", "input_schema", "strict", "cache_control", "type"}:
            raise WireError(f"tools.{k}: Extra inputs are not permitted")
        names.add(tool["name"])
    choice = body.get("tool_choice")
    if choice is not None:
        if choice.get("type") not in ("auto", "any", "tool", "none"):
            raise WireError("tool_choice.type: invalid")
        if choice.get("type") == "tool" and choice.get("name") not in names:
            raise WireError(f"tool_choice.name: tool {choice.get('name')!r} not found in tools")


def _last_user_text(messages: list[dict[str, Any]]) -> tuple[str, str | None]:
    """(text, tool result text) of the last user turn."""
    for message in reversed(messages):
        if message["role"] != "user":
            continue
        texts, result = [], None
        for block in _text_blocks(message["content"]):
            if block.get("type") == "text":
                texts.append(block["text"])
            elif block.get("type") == "tool_result":
                content = block.get("content", "")
                if isinstance(content, list):
                    content = "".join(c.get("text", "") for c in content if c.get("type") == "text")
                result = content
        return " ".join(texts), result
    return "", None


def _count_words(body: dict[str, Any]) -> int:
    total = 0
    system = body.get("system")
    if isinstance(system, str):
        total += len(system.split())
    elif system:
        total += sum(len(b["text"].split()) for b in system)
    for message in body["messages"]:
        for block in _text_blocks(message["content"]):
            if block.get("type") == "text":
                total += len(block["text"].split())
            else:
                total += 1
    return total


def build_message(body: dict[str, Any], behaviour: Behaviour, model: str) -> dict[str, Any]:
    text, tool_result = _last_user_text(body["messages"])
    tools = body.get("tools") or []
    choice = body.get("tool_choice") or {"type": "auto"}
    content: list[dict[str, Any]] = []
    stop_reason, stop_sequence = "end_turn", None
    use_tool = None
    if tools and choice["type"] == "tool":
        use_tool = choice["name"]
    elif tools and (choice["type"] == "any" or (choice["type"] == "auto" and "[tool]" in text)):
        use_tool = tools[0]["name"]
    output_tokens = 0
    if use_tool is not None:
        tool_input = {"echo": text}
        content.append({"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:24]}", "name": use_tool, "input": tool_input})
        stop_reason = "tool_use"
        output_tokens = 1 + len(text.split())
    else:
        if behaviour.content is not None:
            reply = behaviour.content
        elif (body.get("output_config") or {}).get("format"):
            reply = json.dumps({"echo": text})
        elif tool_result is not None and not text:
            reply = f"Tool said: {tool_result}"
        else:
            reply = f"Echo: {text}"
        for stop in body.get("stop_sequences") or []:
            if stop in reply:
                reply, stop_reason, stop_sequence = reply[: reply.index(stop)], "stop_sequence", stop
                break
        words = reply.split(" ")
        if len(words) > body["max_tokens"]:
            reply, stop_reason, stop_sequence = " ".join(words[: body["max_tokens"]]), "max_tokens", None
        if reply:
            content.append({"type": "text", "text": reply})
        output_tokens = len(reply.split())
    if behaviour.stop_reason is not None:
        stop_reason = behaviour.stop_reason
    usage = {
        "input_tokens": _count_words(body),
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": behaviour.cache_creation_input_tokens,
        "cache_read_input_tokens": behaviour.cache_read_input_tokens,
    }
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": usage,
    }


def stream_events(message: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The documented SSE event sequence for a message."""
    start_usage = dict(message["usage"], output_tokens=1)
    started = dict(message, content=[], stop_reason=None, stop_sequence=None, usage=start_usage)
    events: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": started})]
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            events.append(("content_block_start", {"type": "content_block_start", "index": index,
                                                   "content_block": {"type": "text", "text": ""}}))
            if index == 0:
                events.append(("ping", {"type": "ping"}))
            words = block["text"].split(" ")
            for n, word in enumerate(words):
                piece = word if n == 0 else " " + word
                events.append(("content_block_delta", {"type": "content_block_delta", "index": index,
                                                       "delta": {"type": "text_delta", "text": piece}}))
        else:
            events.append(("content_block_start", {"type": "content_block_start", "index": index, "content_block": {
                "type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}}))
            if index == 0:
                events.append(("ping", {"type": "ping"}))
            raw = json.dumps(block["input"])
            third = max(1, len(raw) // 3)
            events.append(("content_block_delta", {"type": "content_block_delta", "index": index,
                                                   "delta": {"type": "input_json_delta", "partial_json": ""}}))
            for offset in range(0, len(raw), third):
                events.append(("content_block_delta", {"type": "content_block_delta", "index": index,
                                                       "delta": {"type": "input_json_delta",
                                                                 "partial_json": raw[offset: offset + third]}}))
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"]},
                                     "usage": {"output_tokens": message["usage"]["output_tokens"]}}))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


class FakeAnthropic:
    def __init__(self, api_key: str = "sk-ant-test") -> None:
        self.api_key = api_key
        self.behaviour = Behaviour()
        self.requests: list[RecordedRequest] = []
        self._queue: collections.deque[Behaviour] = collections.deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.base_url = ""

    def queue(self, *behaviours: Behaviour) -> None:
        with self._lock:
            self._queue.extend(behaviours)

    def _next(self, model: str) -> tuple[Behaviour, str]:
        base, overrides = _directives(model)
        with self._lock:
            behaviour = self._queue.popleft() if self._queue else None
        if behaviour is not None:
            return behaviour, base
        return dataclasses.replace(self.behaviour, **overrides), base

    @property
    def last(self) -> RecordedRequest:
        return self.requests[-1]

    def start(self) -> "FakeAnthropic":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                return

            def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.send_header("request-id", f"req_{uuid.uuid4().hex[:20]}")
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: int, kind: str | None = None, message: str | None = None,
                       headers: dict[str, str] | None = None) -> None:
                kind = kind or _STATUS_TYPES.get(status, "api_error")
                self._send_json(status, {
                    "type": "error",
                    "error": {"type": kind, "message": message or _DEFAULT_MESSAGES.get(kind, "error")},
                    "request_id": f"req_{uuid.uuid4().hex[:20]}",
                }, headers)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                fake.requests.append(RecordedRequest("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                if self.path != "/v1/messages":
                    return self._error(404, "not_found_error", f"Not found: {self.path}")
                if self.headers.get("x-api-key") != fake.api_key:
                    return self._error(401)
                if not self.headers.get("anthropic-version"):
                    return self._error(400, message="anthropic-version: header is required")
                model = body.get("model", "") if isinstance(body, dict) else ""
                behaviour, base_model = fake._next(str(model))
                if behaviour.latency_ms:
                    time.sleep(behaviour.latency_ms / 1000)
                if behaviour.status != 200:
                    headers = {"retry-after": behaviour.retry_after} if behaviour.retry_after else {}
                    return self._error(behaviour.status, behaviour.error_type, behaviour.error_message, headers)
                try:
                    validate_request(body)
                except WireError as exc:
                    return self._error(400, "invalid_request_error", exc.message)
                message = build_message(body, behaviour, base_model)
                if not body.get("stream"):
                    return self._send_json(200, message)
                self.send_response(200)
                self.send_header("content-type", "text/event-stream; charset=utf-8")
                self.send_header("cache-control", "no-cache")
                self.send_header("connection", "close")
                self.end_headers()
                for n, (event, data) in enumerate(stream_events(message)):
                    if behaviour.cut_stream_after is not None and n >= behaviour.cut_stream_after:
                        break
                    if behaviour.stream_error_after is not None and n >= behaviour.stream_error_after:
                        error = {"type": "error", "error": {"type": behaviour.stream_error_type,
                                                            "message": _DEFAULT_MESSAGES.get(behaviour.stream_error_type, "error")}}
                        self.wfile.write(f"event: error\ndata: {json.dumps(error)}\n\n".encode())
                        break
                    self.wfile.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
                    self.wfile.flush()
                self.close_connection = True

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@contextmanager
def start_fake_anthropic(api_key: str = "sk-ant-test") -> Iterator[FakeAnthropic]:
    fake = FakeAnthropic(api_key).start()
    try:
        yield fake
    finally:
        fake.stop()
