"""A loopback fake of an OpenAI-compatible upstream, fast enough to benchmark against.

It is a raw asyncio HTTP/1.1 server (keep-alive, Content-Length and chunked responses,
uvloop when available) that speaks OpenAI's documented wire format:

- ``POST /v1/chat/completions``: a ``chat.completion`` object, or with ``stream: true`` a
  ``text/event-stream`` of ``chat.completion.chunk`` events ending with ``data: [DONE]``;
  with ``stream_options.include_usage`` every chunk carries ``"usage": null`` and one last
  chunk with ``"choices": []`` carries the usage. Tool calls (non-streamed and as
  ``delta.tool_calls`` fragments) when the request has tools and ``tool_choice`` is not
  ``"none"``; ``response_format`` json_object / json_schema give JSON content.
- ``POST /v1/embeddings``: a ``list`` of ``embedding`` objects, deterministic unit vectors,
  ``dimensions`` honoured, ``encoding_format`` float or base64.
- ``POST /v1/responses``: the same answers in the Responses API's shape and typed events
  (``tests.fakes.openai_responses_fake``).
- ``GET /v1/models`` and ``GET /v1/models/{id}``. Every path also works without ``/v1``.
- errors as ``{"error": {"message", "type", "param", "code"}}``; 429 with ``Retry-After``.

Answers are deterministic: the reply is ``"Echo: " + <last user message text>`` (words are
the unit of "tokens"), usage carries prompt/completion tokens and
``prompt_tokens_details.cached_tokens``.

Faults are chosen per request, first match wins:
1. a ``Behaviour`` queued with ``fake.queue(...)`` (consumed one per chat/embeddings request);
2. directives in the model name: ``"gpt-4o;status=503;retry_after=1"``,
   ``"m;cut_stream_after=2"``, ``"m;latency_ms=50"``, ``"m;reset_connection"``
   (fields of ``Behaviour``; a bare name means True) — these override 3 field by field;
3. ``fake.behaviour`` (default: a healthy upstream).

Every request is recorded (method, path, headers, raw body, parsed JSON) in
``fake.requests`` so tests can assert exactly what the mesh sent.

Use from tests::

    with start_fake_openai() as fake:
        client = openai.OpenAI(base_url=fake.base_url, api_key="k")
        fake.behaviour = Behaviour(status=503)

and for benchmarks ``python -m tests.fakes.openai_upstream --port 8199`` (prints
``listening on http://HOST:PORT/v1`` once ready; request recording is off unless ``--record``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import dataclasses
import hashlib
import itertools
import json
import math
import random
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

try:  # uvloop comes with uvicorn[standard]; the fake works without it, only slower
    import uvloop as _uvloop
except ImportError:  # pragma: no cover
    _uvloop = None

__all__ = ["Behaviour", "FakeOpenAI", "RecordedRequest", "start_fake_openai", "parse_model_directives"]

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

DEFAULT_MODELS = ("gpt-4o-mini", "gpt-4o", "text-embedding-3-small", "text-embedding-3-large")
_EMBEDDING_DIMS = {"text-embedding-3-large": 3072, "text-embedding-3-small": 1536, "text-embedding-ada-002": 1536}

_REASONS = {
    200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict", 413: "Payload Too Large",
    422: "Unprocessable Entity", 429: "Too Many Requests", 431: "Request Header Fields Too Large",
    500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}

# status -> (type, code, message) as OpenAI sends them
_ERROR_DEFAULTS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "permission_denied", "You are not allowed to use this model."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist or you do not have access to it."),
    408: ("server_error", "timeout", "Request timed out."),
    409: ("invalid_request_error", "conflict", "Conflict."),
    422: ("invalid_request_error", None, "Unprocessable request."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again later."),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
    504: ("server_error", "timeout", "Gateway timeout."),
}


@dataclass
class Behaviour:
    """How the fake answers one request. The default is a healthy, instant upstream."""

    status: int = 200  # != 200: answer with an OpenAI error body and this status
    error_message: str | None = None
    error_type: str | None = None
    error_code: str | None = None
    error_param: str | None = None
    retry_after: float | None = None  # Retry-After header (seconds); also retry-after-ms
    latency_ms: float = 0.0  # delay before the response head (time to first byte)
    chunk_delay_ms: float = 0.0  # delay between streamed events
    cut_stream_after: int | None = None  # stream: stop after N data events (role chunk counts)
    cut_style: str = "close"  # close: drop the TCP connection mid-body; reset: RST; clean: end body without [DONE]
    stream_error_after: int | None = None  # stream: after N events send an in-band {"error": ...} event
    malformed_json: bool = False  # a 200 whose body (or first stream event) is not valid JSON
    reset_connection: bool = False  # read the request, then RST the connection without answering
    cached_tokens: int = 0  # usage.prompt_tokens_details.cached_tokens
    content: str | None = None  # reply text instead of the echo
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers
    body: str | None = None  # raw response body instead of the generated one (non-stream)

    def merged(self, overrides: dict[str, Any]) -> "Behaviour":
        return dataclasses.replace(self, **overrides) if overrides else self


_FIELD_TYPES = {f.name: f.type for f in dataclasses.fields(Behaviour)}


def parse_model_directives(model: str) -> tuple[str, dict[str, Any]]:
    """``"gpt-4o;status=503;retry_after=1.5;malformed_json"`` -> ("gpt-4o", {...})."""
    if ";" not in model:
        return model, {}
    base, *parts = model.split(";")
    overrides: dict[str, Any] = {}
    for part in parts:
        if not part:
            continue
        key, sep, raw = part.partition("=")
        key = key.strip()
        kind = _FIELD_TYPES.get(key)
        if kind is None or key in ("headers",):
            raise ValueError(f"unknown directive {key!r} in model name")
        if not sep:
            value: Any = True
        elif "bool" in kind:
            value = raw.lower() in ("1", "true", "yes", "on")
        elif "int" in kind:
            value = int(raw)
        elif "float" in kind:
            value = float(raw)
        else:
            value = raw
        overrides[key] = value
    return base, overrides


@dataclass
class RecordedRequest:
    method: str
    path: str  # without the query string
    query: str
    headers: dict[str, str]  # lower-cased names; a repeated header keeps its last value
    body: bytes
    received_at: float
    _json: Any = dataclasses.field(default=None, repr=False)

    @property
    def json(self) -> Any:
        if self._json is None and self.body:
            try:
                self._json = json.loads(self.body)
            except ValueError:
                self._json = None
        return self._json


class _HttpError(Exception):
    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code


# --------------------------------------------------------------------------- answers


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for part in content:
            if isinstance(part, dict):
                if part.get("type") == "text":
                    out.append(str(part.get("text", "")))
                elif part.get("type") in ("image_url", "input_audio", "file"):
                    out.append(f"[{part['type']}]")
            elif isinstance(part, str):
                out.append(part)
        return " ".join(out)
    return ""


def _count_tokens(text: str) -> int:
    return len(text.split())


def _prompt_tokens(body: dict[str, Any]) -> int:
    total = 3
    for message in body.get("messages") or ():
        if isinstance(message, dict):
            total += 3 + _count_tokens(_text_of(message.get("content")))
            for call in message.get("tool_calls") or ():
                fn = (call.get("function") or {}) if isinstance(call, dict) else {}
                total += _count_tokens(str(fn.get("arguments", ""))) + 1
    if body.get("tools"):
        total += len(_dumps(body["tools"])) // 4
    return total


def _sample_value(schema: Any, text: str) -> Any:
    if not isinstance(schema, dict):
        return text
    if "enum" in schema and schema["enum"]:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "integer":
        return len(text.split())
    if kind == "number":
        return float(len(text.split()))
    if kind == "boolean":
        return True
    if kind == "array":
        return [_sample_value(schema.get("items"), text)] if schema.get("items") else []
    if kind == "object" or "properties" in schema:
        return {name: _sample_value(sub, text) for name, sub in (schema.get("properties") or {}).items()}
    return text


def _pick_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    tools = [t for t in body.get("tools") or () if isinstance(t, dict) and t.get("type", "function") == "function"]
    choice = body.get("tool_choice", "auto")
    if not tools or choice == "none":
        return None
    messages = body.get("messages") or []
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    if isinstance(choice, dict):
        wanted = (choice.get("function") or {}).get("name")
        return next((t for t in tools if (t.get("function") or {}).get("name") == wanted), tools[0])
    if choice == "auto" and last.get("role") == "tool":
        return None  # the tool result is in: answer in text, so agent loops end
    return tools[0]


def _reply_text(body: dict[str, Any], behaviour: Behaviour) -> tuple[str, str]:
    """(content, finish_reason) for a text answer."""
    text = ""
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            text = _text_of(message.get("content"))
            break
    if behaviour.content is not None:
        content = behaviour.content
    else:
        fmt = body.get("response_format") or {}
        kind = fmt.get("type") if isinstance(fmt, dict) else None
        if kind == "json_object":
            content = _dumps({"echo": text})
        elif kind == "json_schema":
            content = _dumps(_sample_value(((fmt.get("json_schema") or {}).get("schema")) or {}, text))
        else:
            content = "Echo: " + text if text else "Echo."
    finish = "stop"
    stop = body.get("stop")
    for marker in [stop] if isinstance(stop, str) else (stop or []):
        if isinstance(marker, str) and marker and marker in content:
            content = content[: content.index(marker)]
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if isinstance(limit, int) and limit > 0:
        words = _split_words(content)
        if len(words) > limit:
            content, finish = "".join(words[:limit]), "length"
    return content, finish


def _split_words(text: str) -> list[str]:
    """Split into pieces that concatenate back to ``text``: "a b  c" -> ["a", " b", "  c"]."""
    pieces: list[str] = []
    current = ""
    for index, ch in enumerate(text):
        if ch.isspace() and current and not current.isspace() and index > 0:
            pieces.append(current)
            current = ch
        else:
            current += ch
    if current:
        pieces.append(current)
    return pieces


def _tool_call(tool: dict[str, Any], body: dict[str, Any], index: int, request_no: int) -> dict[str, Any]:
    fn = tool.get("function") or {}
    text = ""
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            text = _text_of(message.get("content"))
            break
    arguments = _dumps(_sample_value(fn.get("parameters") or {"type": "object", "properties": {}}, text))
    digest = hashlib.sha1(f"{fn.get('name')}|{arguments}|{index}".encode()).hexdigest()[:24]
    return {"id": f"call_{digest}", "type": "function", "function": {"name": fn.get("name", ""), "arguments": arguments}}


def _usage(prompt: int, completion: int, cached: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": min(cached, prompt), "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _embedding(text: str, dims: int) -> list[float]:
    rng = random.Random(hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest())
    vec = [rng.gauss(0.0, 1.0) for _ in range(dims)]
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return [round(v / norm, 7) for v in vec]


# --------------------------------------------------------------------------- plans


@dataclass
class _Plan:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""  # non-stream body
    events: list[bytes] | None = None  # stream: SSE frames, each one chunk
    end: str = "ok"  # ok | close | reset | clean
    latency: float = 0.0
    delay: float = 0.0
    reset_only: bool = False


def _sse(payload: Any) -> bytes:
    data = payload if isinstance(payload, str) else _dumps(payload)
    return b"data: " + data.encode() + b"\n\n"


class FakeOpenAI:
    """The server state: behaviour, queued behaviours, recorded requests. Thread-safe enough for tests:
    attribute assignment and deque operations are atomic under the GIL."""

    def __init__(self, *, record: bool = True, max_records: int = 100_000, api_key: str | None = None,
                 models: Iterable[str] = DEFAULT_MODELS) -> None:
        self.behaviour = Behaviour()
        self._queue: collections.deque[Behaviour] = collections.deque()
        self.record = record
        self.requests: collections.deque[RecordedRequest] = collections.deque(maxlen=max_records)
        self.api_key = api_key  # when set, a request without "Authorization: Bearer <api_key>" gets 401
        self.models = list(models)
        self.host = "127.0.0.1"
        self.port = 0
        self._ids = itertools.count(1)
        self.responses_usage: dict[str, Any] | None = None  # the usage of the last /v1/responses answer
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._conns: set[_Connection] = set()
        self.served = 0

    # ---- test API
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def queue(self, *behaviours: Behaviour) -> None:
        """Use these behaviours, in order, for the next chat/embeddings requests, then ``behaviour``."""
        self._queue.extend(behaviours)

    def reset(self) -> None:
        """Healthy behaviour, empty queue, no recorded requests."""
        self.behaviour = Behaviour()
        self._queue.clear()
        self.requests.clear()

    def clear(self) -> None:
        self.requests.clear()

    @property
    def last(self) -> RecordedRequest:
        return self.requests[-1]

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"expected {count} requests, got {len(self.requests)}")
            time.sleep(0.005)

    # ---- lifecycle
    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Start listening on the running loop (returns once bound)."""
        self._loop = asyncio.get_running_loop()
        self._server = await self._loop.create_server(
            lambda: _Connection(self), host, port, reuse_address=True, backlog=1024
        )
        sock = self._server.sockets[0]
        self.host, self.port = sock.getsockname()[:2]

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            for conn in list(self._conns):
                if conn.transport is not None:
                    conn.transport.abort()
            await self._server.wait_closed()
            self._server = None

    def start(self, host: str = "127.0.0.1", port: int = 0) -> "FakeOpenAI":
        """Run in a background thread with its own event loop; returns once listening."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = _uvloop.new_event_loop() if _uvloop else asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.serve(host, port))
            except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.aclose())
                loop.close()

        self._thread = threading.Thread(target=run, name=f"fake-openai-{port}", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> "FakeOpenAI":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ---- request handling
    def _behaviour_for(self, model: str) -> tuple[str, Behaviour]:
        base, overrides = parse_model_directives(model)
        try:
            chosen = self._queue.popleft()
        except IndexError:
            chosen = self.behaviour
        return base, chosen.merged(overrides)

    def plan(self, method: str, path: str, headers: dict[str, str], body: bytes) -> _Plan:
        if path.startswith("/v1/"):
            path = path[3:]
        request_id = f"req_{next(self._ids):012x}"
        try:
            if path == "/health":
                return self._json_plan(200, {"status": "ok"}, request_id)
            if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
                raise _HttpError(401, "Incorrect API key provided.", code="invalid_api_key")
            if path == "/models" or path.startswith("/models/"):
                if method != "GET":
                    raise _HttpError(405, f"Invalid method for URL ({method} /v1{path})")
                return self._models(path, request_id)
            if path not in ("/chat/completions", "/embeddings", "/responses"):
                raise _HttpError(404, f"Invalid URL ({method} /v1{path})")
            if method != "POST":
                raise _HttpError(405, f"Invalid method for URL ({method} /v1{path})")
            try:
                payload = json.loads(body) if body else None
            except ValueError:
                raise _HttpError(400, "We could not parse the JSON body of your request.") from None
            if not isinstance(payload, dict):
                raise _HttpError(400, "The request body must be a JSON object.")
            model = payload.get("model")
            if not isinstance(model, str) or not model:
                raise _HttpError(400, "you must provide a model parameter", param="model")
            try:
                base_model, behaviour = self._behaviour_for(model)
            except ValueError as exc:
                raise _HttpError(400, str(exc), param="model") from None
            if behaviour.reset_connection:
                return _Plan(reset_only=True, latency=behaviour.latency_ms / 1000)
            if behaviour.status != 200:
                return self._error_plan(behaviour, request_id)
            if path == "/embeddings":
                plan = self._embeddings(payload, base_model, behaviour, request_id)
            elif path == "/responses":
                from tests.fakes.openai_responses_fake import responses_plan

                plan = responses_plan(self, payload, base_model, behaviour, request_id)
            else:
                plan = self._chat(payload, base_model, behaviour, request_id)
            plan.latency = behaviour.latency_ms / 1000
            for name, value in behaviour.headers.items():
                plan.headers.append((name, value))
            return plan
        except _HttpError as exc:
            default_type, _, _ = _ERROR_DEFAULTS.get(exc.status, ("invalid_request_error", None, ""))
            error = {"message": exc.message, "type": default_type, "param": exc.param, "code": exc.code}
            return self._json_plan(exc.status, {"error": error}, request_id)

    def _json_plan(self, status: int, obj: Any, request_id: str) -> _Plan:
        return _Plan(status=status, headers=[("content-type", "application/json"), ("x-request-id", request_id)],
                     body=_dumps(obj).encode())

    def _error_plan(self, b: Behaviour, request_id: str) -> _Plan:
        kind, code, message = _ERROR_DEFAULTS.get(
            b.status, ("server_error" if b.status >= 500 else "invalid_request_error", None, "Error.")
        )
        error = {
            "message": b.error_message or message,
            "type": b.error_type or kind,
            "param": b.error_param,
            "code": b.error_code if b.error_code is not None else code,
        }
        plan = self._json_plan(b.status, {"error": error}, request_id)
        if b.body is not None:
            plan.body = b.body.encode()
        if b.retry_after is not None:
            seconds = b.retry_after
            plan.headers.append(("retry-after", str(int(seconds)) if float(seconds).is_integer() else str(seconds)))
            plan.headers.append(("retry-after-ms", str(int(seconds * 1000))))
        plan.latency = b.latency_ms / 1000
        plan.headers.extend(b.headers.items())
        return plan

    def _models(self, path: str, request_id: str) -> _Plan:
        created = 1_700_000_000
        if path == "/models":
            data = [{"id": m, "object": "model", "created": created, "owned_by": "fake"} for m in self.models]
            return self._json_plan(200, {"object": "list", "data": data}, request_id)
        model_id = path[len("/models/"):]
        if model_id not in self.models:
            raise _HttpError(404, f"The model '{model_id}' does not exist", param="model", code="model_not_found")
        return self._json_plan(200, {"id": model_id, "object": "model", "created": created, "owned_by": "fake"},
                               request_id)

    def _embeddings(self, payload: dict[str, Any], model: str, b: Behaviour, request_id: str) -> _Plan:
        raw = payload.get("input")
        if isinstance(raw, str):
            inputs = [raw]
        elif isinstance(raw, list) and raw and all(isinstance(x, str) for x in raw):
            inputs = raw
        elif isinstance(raw, list) and raw and all(isinstance(x, int) for x in raw):
            inputs = [" ".join(map(str, raw))]
        elif isinstance(raw, list) and raw and all(isinstance(x, list) for x in raw):
            inputs = [" ".join(map(str, x)) for x in raw]
        else:
            raise _HttpError(400, "'input' must be a non-empty string or array", param="input")
        dims = payload.get("dimensions")
        if dims is None:
            dims = _EMBEDDING_DIMS.get(model, 1536)
        elif not isinstance(dims, int) or isinstance(dims, bool) or dims < 1:
            raise _HttpError(400, "'dimensions' must be a positive integer", param="dimensions")
        encoding = payload.get("encoding_format", "float")
        if encoding not in ("float", "base64"):
            raise _HttpError(400, "'encoding_format' must be 'float' or 'base64'", param="encoding_format")
        data = []
        for index, text in enumerate(inputs):
            vector: Any = _embedding(text, dims)
            if encoding == "base64":
                vector = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": vector})
        tokens = sum(max(1, _count_tokens(t)) for t in inputs)
        obj = {"object": "list", "data": data, "model": model,
               "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
        plan = self._json_plan(200, obj, request_id)
        if b.malformed_json:
            plan.body = plan.body[: len(plan.body) // 2]
        elif b.body is not None:
            plan.body = b.body.encode()
        return plan

    def _chat(self, payload: dict[str, Any], model: str, b: Behaviour, request_id: str) -> _Plan:
        messages = payload.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _HttpError(400, "'messages' must be a non-empty array", param="messages")
        n = payload.get("n") or 1
        if not isinstance(n, int) or n < 1 or n > 128:
            raise _HttpError(400, "'n' must be an integer between 1 and 128", param="n")
        number = next(self._ids)
        completion_id = f"chatcmpl-fake{number:020d}"
        created = int(time.time())
        prompt_tokens = _prompt_tokens(payload)
        tool = _pick_tool(payload)
        if tool is not None:
            calls = [_tool_call(tool, payload, 0, number)]
            content, finish = None, "tool_calls"
            completion_tokens = _count_tokens(calls[0]["function"]["arguments"]) + 1
        else:
            calls = None
            content, finish = _reply_text(payload, b)
            completion_tokens = len(_split_words(content))
        usage = _usage(prompt_tokens, completion_tokens * n, b.cached_tokens)

        if not payload.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None, "annotations": []}
            if calls:
                message["tool_calls"] = calls
            obj = {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {"index": i, "message": message, "logprobs": None, "finish_reason": finish} for i in range(n)
                ],
                "usage": usage,
                "service_tier": "default",
                "system_fingerprint": "fp_fake",
            }
            plan = self._json_plan(200, obj, request_id)
            if b.malformed_json:
                plan.body = plan.body[: len(plan.body) // 2]
            elif b.body is not None:
                plan.body = b.body.encode()
            return plan

        include_usage = bool((payload.get("stream_options") or {}).get("include_usage"))
        head = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                "service_tier": "default", "system_fingerprint": "fp_fake"}

        def chunk(choices: list[dict[str, Any]]) -> bytes:
            obj = dict(head, choices=choices)
            if include_usage:
                obj["usage"] = None
            return _sse(obj)

        events: list[bytes] = []
        for i in range(n):
            first: dict[str, Any] = {"role": "assistant", "content": None if calls else "", "refusal": None}
            events.append(chunk([{"index": i, "delta": first, "logprobs": None, "finish_reason": None}]))
        if calls:
            call = calls[0]
            args = call["function"]["arguments"]
            pieces = [args[k:k + 16] for k in range(0, len(args), 16)] or [""]
            for i in range(n):
                opener = {"index": 0, "id": call["id"], "type": "function",
                          "function": {"name": call["function"]["name"], "arguments": ""}}
                events.append(chunk([{"index": i, "delta": {"tool_calls": [opener]}, "logprobs": None,
                                      "finish_reason": None}]))
            for piece in pieces:
                for i in range(n):
                    frag = {"index": 0, "function": {"arguments": piece}}
                    events.append(chunk([{"index": i, "delta": {"tool_calls": [frag]}, "logprobs": None,
                                          "finish_reason": None}]))
        else:
            for piece in _split_words(content or ""):
                for i in range(n):
                    events.append(chunk([{"index": i, "delta": {"content": piece}, "logprobs": None,
                                          "finish_reason": None}]))
        for i in range(n):
            events.append(chunk([{"index": i, "delta": {}, "logprobs": None, "finish_reason": finish}]))
        if include_usage:
            events.append(_sse(dict(head, choices=[], usage=usage)))
        events.append(b"data: [DONE]\n\n")

        plan = _Plan(headers=[("content-type", "text/event-stream; charset=utf-8"), ("cache-control", "no-cache"),
                              ("x-request-id", request_id)], events=events, delay=b.chunk_delay_ms / 1000)
        if b.malformed_json:
            events.insert(1, b'data: {"id": "chatcmpl-broken", "choices": [\n\n')
        if b.stream_error_after is not None:
            cut = max(0, b.stream_error_after)
            error = {"error": {"message": b.error_message or "The server had an error while processing your request.",
                               "type": b.error_type or "server_error", "param": None, "code": b.error_code}}
            del events[cut:]
            events.append(_sse(error))
        elif b.cut_stream_after is not None:
            del events[max(0, b.cut_stream_after):]
            plan.end = b.cut_style if b.cut_style in ("close", "reset", "clean") else "close"
        return plan


# --------------------------------------------------------------------------- HTTP/1.1


def _frame(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data)


class _Connection(asyncio.Protocol):
    __slots__ = ("fake", "transport", "buf", "busy", "closed")

    def __init__(self, fake: FakeOpenAI) -> None:
        self.fake = fake
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.busy = False
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.fake._conns.add(self)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.fake._conns.discard(self)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.busy:
            self._process()

    def _process(self) -> None:
        while not self.busy and not self.closed:
            parsed = self._parse()
            if parsed is None:
                return
            method, path, query, headers, body, keep_alive = parsed
            fake = self.fake
            if fake.record:
                fake.requests.append(RecordedRequest(method, path, query, headers, body, time.time()))
            plan = fake.plan(method, path, headers, body)
            fake.served += 1
            if plan.latency > 0 or (plan.delay > 0 and plan.events and len(plan.events) > 1):
                self.busy = True
                asyncio.get_running_loop().create_task(self._send_later(plan, keep_alive))
                return
            self._send(plan, keep_alive)

    def _parse(self) -> tuple[str, str, str, dict[str, str], bytes, bool] | None:
        buf = self.buf
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > 65536:
                self._fail(431)
            return None
        try:
            lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ", 2)
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        except ValueError:
            self._fail(400)
            return None
        start = end + 4
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body_parts = []
            pos = start
            while True:
                line_end = buf.find(b"\r\n", pos)
                if line_end < 0:
                    return None
                try:
                    size = int(bytes(buf[pos:line_end]).split(b";")[0], 16)
                except ValueError:
                    self._fail(400)
                    return None
                if size == 0:
                    trailer_end = buf.find(b"\r\n\r\n", line_end)
                    if trailer_end < 0:
                        return None
                    consumed = trailer_end + 4
                    break
                if len(buf) < line_end + 2 + size + 2:
                    return None
                body_parts.append(bytes(buf[line_end + 2: line_end + 2 + size]))
                pos = line_end + 2 + size + 2
            body = b"".join(body_parts)
        else:
            try:
                length = int(headers.get("content-length", "0"))
            except ValueError:
                self._fail(400)
                return None
            if len(buf) < start + length:
                return None
            body = bytes(buf[start:start + length])
            consumed = start + length
        del buf[:consumed]
        path, _, query = target.partition("?")
        connection = headers.get("connection", "").lower()
        keep_alive = ("close" not in connection) if version == "HTTP/1.1" else ("keep-alive" in connection)
        return method.upper(), path, query, headers, body, keep_alive

    def _fail(self, status: int) -> None:
        body = _dumps({"error": {"message": _REASONS.get(status, "Error"), "type": "invalid_request_error",
                                 "param": None, "code": None}}).encode()
        if self.transport is not None:
            self.transport.write(
                b"HTTP/1.1 %d %b\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%b"
                % (status, _REASONS.get(status, "Error").encode(), len(body), body)
            )
            self.transport.close()
        self.closed = True

    def _head(self, plan: _Plan, keep_alive: bool, chunked: bool) -> bytes:
        parts = [b"HTTP/1.1 %d %b\r\n" % (plan.status, _REASONS.get(plan.status, "Status").encode())]
        for name, value in plan.headers:
            parts.append(f"{name}: {value}\r\n".encode("latin-1", "replace"))
        if chunked:
            parts.append(b"transfer-encoding: chunked\r\n")
        else:
            parts.append(b"content-length: %d\r\n" % len(plan.body))
        parts.append(b"openai-processing-ms: 1\r\n")
        parts.append(b"connection: keep-alive\r\n\r\n" if keep_alive else b"connection: close\r\n\r\n")
        return b"".join(parts)

    def _reset(self) -> None:
        transport = self.transport
        if transport is None or self.closed:
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        transport.abort()
        self.closed = True

    def _finish(self, plan: _Plan, keep_alive: bool) -> None:
        transport = self.transport
        if transport is None or self.closed:
            return
        if plan.end == "reset":
            self._reset()
        elif plan.end == "close":
            transport.close()  # flushes what was written, then FIN: the chunked body never completes
            self.closed = True
        elif not keep_alive:
            transport.close()
            self.closed = True

    def _send(self, plan: _Plan, keep_alive: bool) -> None:
        transport = self.transport
        if transport is None or self.closed:
            return
        if plan.reset_only:
            self._reset()
            return
        if plan.events is None:
            transport.write(self._head(plan, keep_alive, False) + plan.body)
        else:
            out = [self._head(plan, keep_alive, True)]
            out.extend(_frame(e) for e in plan.events)
            if plan.end in ("ok", "clean"):
                out.append(b"0\r\n\r\n")
            transport.write(b"".join(out))
        self._finish(plan, keep_alive)

    async def _send_later(self, plan: _Plan, keep_alive: bool) -> None:
        try:
            if plan.latency > 0:
                await asyncio.sleep(plan.latency)
            if plan.events is None or plan.reset_only or plan.delay <= 0:
                self._send(plan, keep_alive)
            else:
                transport = self.transport
                if transport is None or self.closed:
                    return
                transport.write(self._head(plan, keep_alive, True))
                for index, event in enumerate(plan.events):
                    if index:
                        await asyncio.sleep(plan.delay)
                    if self.closed:
                        return
                    transport.write(_frame(event))
                if plan.end in ("ok", "clean"):
                    transport.write(b"0\r\n\r\n")
                self._finish(plan, keep_alive)
        except Exception:  # noqa: BLE001 - a broken client connection must not kill the server
            self._reset()
        finally:
            self.busy = False
            if not self.closed and self.buf:
                self._process()


def start_fake_openai(host: str = "127.0.0.1", port: int = 0, **options: Any) -> FakeOpenAI:
    """Start a fake in a background thread; use as a context manager or call ``.stop()``.

    ``options``: ``record``, ``max_records``, ``api_key``, ``models`` (see ``FakeOpenAI``).
    """
    return FakeOpenAI(**options).start(host, port)


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.openai_upstream", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8199, help="0 picks a free port (printed on stdout)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay before every response head")
    parser.add_argument("--chunk-delay-ms", type=float, default=0.0, help="delay between streamed events")
    parser.add_argument("--content", default=None, help="fixed reply text instead of the echo")
    parser.add_argument("--api-key", default=None, help="require this Bearer key")
    parser.add_argument("--record", action="store_true", help="keep received requests (memory grows)")
    args = parser.parse_args(argv)

    fake = FakeOpenAI(record=args.record, api_key=args.api_key)
    fake.behaviour = Behaviour(latency_ms=args.latency_ms, chunk_delay_ms=args.chunk_delay_ms, content=args.content)

    async def run() -> None:
        await fake.serve(args.host, args.port)
        print(f"listening on {fake.base_url}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await fake.aclose()

    try:
        if _uvloop is not None:
            _uvloop.run(run())
        else:
            asyncio.run(run())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main(sys.argv[1:])
