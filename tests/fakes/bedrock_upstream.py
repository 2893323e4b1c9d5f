"""A loopback fake of the Bedrock Runtime REST API, for boto3 with ``endpoint_url``.

Routes (botocore service model ``bedrock-runtime`` 2023-09-30):
- ``POST /model/{modelId}/converse``: a Converse response
  ``{"output": {"message": {"role", "content"}}, "stopReason", "usage", "metrics"}``;
- ``POST /model/{modelId}/converse-stream``: ``application/vnd.amazon.eventstream``
  frames (``messageStart``, ``contentBlockStart``/``Delta``/``Stop``, ``messageStop``,
  ``metadata``), each event payload padded with a ``p`` field like the real service;
- ``POST /model/{modelId}/invoke``: Titan text embeddings (``inputText`` ->
  ``embedding``, ``inputTextTokenCount``) and Cohere Embed (``texts`` -> ``embeddings``,
  token count in ``X-Amzn-Bedrock-Input-Token-Count``).

Errors use the AWS rest-json shape (``x-amzn-ErrorType`` + ``{"message"}``) with the
service's statuses. Replies are deterministic: ``"Echo: <last user text>"``, one word
per token. With a ``toolConfig`` the model calls the first tool (or the named one)
unless the last turn carries a ``toolResult``, then it answers ``"Tool said: ..."``.

Faults: a ``Behaviour`` queued with ``fake.queue(...)``, else a keyword in the last
user text: ``[throttle]``, ``[context]``, ``[validation]``, ``[denied]``, ``[notfound]``,
``[unavailable]``, ``[not_ready]``, ``[filter]`` (guardrail stop), ``[length]``,
``[stream_error]`` / ``[stream_throttle]`` (exception event mid-stream), ``[cut]`` /
``[cut_mid_frame]`` (connection closed mid-stream), ``[no_metadata]``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import struct
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator
from urllib.parse import unquote

from tests.fakes.aws_eventstream import (
    AwsFake,
    Recorded,
    Reply,
    aws_error,
    event_frame,
    exception_frame,
    serving,
)

_ROUTE = re.compile(r"^/model/(?P<model>[^/]+)/(?P<op>converse|converse-stream|invoke)$")

ERRORS = {
    "throttle": (429, "ThrottlingException", "Too many requests, please wait before trying again."),
    "context": (400, "ValidationException", "Input is too long for requested model."),
    "validation": (400, "ValidationException", "Malformed input request: temperature out of range"),
    "denied": (403, "AccessDeniedException", "You don't have access to the model with the specified model ID."),
    "notfound": (404, "ResourceNotFoundException", "Could not resolve the foundation model from the model identifier."),
    "unavailable": (503, "ServiceUnavailableException", "The service is temporarily unable to handle the request."),
    "not_ready": (429, "ModelNotReadyException", "Model is not ready to serve inference requests."),
    "internal": (500, "InternalServerException", "Internal server error"),
}


@dataclass
class Behaviour:
    error: str | None = None  # a key of ERRORS
    stop_reason: str | None = None  # force a stopReason
    stream_exception: str | None = None  # exception event name sent mid-stream
    cut: bool = False
    cut_mid_frame: bool = False
    no_metadata: bool = False
    cache_read: int = 0
    retry_after: str | None = None


def _words(text: str) -> list[str]:
    return text.split()


def _vector(text: str, dims: int, normalize: bool = True) -> list[float]:
    seed = hashlib.sha256(text.encode()).digest()
    raw = []
    counter = 0
    while len(raw) < dims:
        block = hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        raw.extend(struct.unpack(">8i", block))
        counter += 1
    values = [v / 2**31 for v in raw[:dims]]
    if normalize:
        norm = math.sqrt(sum(v * v for v in values)) or 1.0
        values = [v / norm for v in values]
    return values


def _padding(n: int) -> str:
    return "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[: max(1, n % 40)]


@dataclass
class FakeBedrock(AwsFake):
    behaviour: Behaviour = field(default_factory=Behaviour)
    _queue: list[Behaviour] = field(default_factory=list)

    def queue(self, *behaviours: Behaviour) -> None:
        self._queue.extend(behaviours)

    # -------------------------------------------------------------- dispatch
    def handle(self, request: Recorded) -> Reply:
        match = _ROUTE.match(request.path.split("?", 1)[0])
        if match is None:
            return aws_error(404, "UnknownOperationException", "no such route")
        model = unquote(match.group("model"))
        body = request.json() or {}
        if match.group("op") == "invoke":
            return self._invoke(model, body)
        behaviour = self._pick(body)
        if behaviour.error:
            status, code, message = ERRORS[behaviour.error]
            reply = aws_error(status, code, message)
            if behaviour.retry_after:
                reply.headers["Retry-After"] = behaviour.retry_after
            return reply
        problem = self._validate(body)
        if problem:
            return aws_error(400, "ValidationException", problem)
        if match.group("op") == "converse":
            return self._converse(body, behaviour)
        return self._converse_stream(body, behaviour)

    def _pick(self, body: dict[str, Any]) -> Behaviour:
        if self._queue:
            return self._queue.pop(0)
        text = self._last_user_text(body)
        b = Behaviour(**self.behaviour.__dict__)
        for key in ERRORS:
            if f"[{key}]" in text:
                b.error = key
        if "[filter]" in text:
            b.stop_reason = "guardrail_intervened"
        if "[length]" in text:
            b.stop_reason = "max_tokens"
        if "[stream_error]" in text:
            b.stream_exception = "modelStreamErrorException"
        if "[stream_throttle]" in text:
            b.stream_exception = "throttlingException"
        if "[cut_mid_frame]" in text:
            b.cut = b.cut_mid_frame = True
        elif "[cut]" in text:
            b.cut = True
        if "[no_metadata]" in text:
            b.no_metadata = True
        return b

    @staticmethod
    def _last_user_text(body: dict[str, Any]) -> str:
        for message in reversed(body.get("messages") or []):
            if message.get("role") == "user":
                return " ".join(b["text"] for b in message.get("content") or [] if "text" in b)
        return ""

    @staticmethod
    def _validate(body: dict[str, Any]) -> str | None:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return "messages must not be empty"
        previous = None
        for message in messages:
            if message.get("role") not in ("user", "assistant"):
                return "A conversation must alternate between user and assistant roles."
            if message["role"] == previous:
                return "A conversation must alternate between user and assistant roles."
            previous = message["role"]
            for block in message.get("content") or []:
                if "text" in block and not block["text"].strip():
                    return "The text field in the ContentBlock object is blank."
                if "image" in block:
                    try:
                        base64.b64decode(block["image"]["source"]["bytes"], validate=True)
                    except Exception:
                        return "image bytes must be base64"
                if ("toolUse" in block or "toolResult" in block) and "toolConfig" not in body:
                    return "The toolConfig field must be defined when using toolUse and toolResult content blocks."
        if messages[0]["role"] != "user":
            return "A conversation must start with a user message."
        return None

    # -------------------------------------------------------------- the "model"
    def _answer(self, body: dict[str, Any], behaviour: Behaviour) -> tuple[list[str], dict[str, Any] | None, str, int]:
        """(text words, tool use or None, stopReason, input tokens)."""
        input_tokens = sum(len(_words(s.get("text", ""))) for s in body.get("system") or [])
        for message in body.get("messages") or []:
            for block in message.get("content") or []:
                if "text" in block:
                    input_tokens += len(_words(block["text"]))
        last = (body.get("messages") or [{}])[-1]
        results = [b["toolResult"] for b in last.get("content") or [] if "toolResult" in b]
        tool_config = body.get("toolConfig")
        if results:
            said = " ".join(c.get("text", json.dumps(c.get("json"))) for r in results for c in r.get("content") or [])
            words, tool = _words("Tool said: " + said), None
        elif tool_config and tool_config.get("tools"):
            choice = tool_config.get("toolChoice") or {"auto": {}}
            name = choice["tool"]["name"] if "tool" in choice else tool_config["tools"][0]["toolSpec"]["name"]
            tool = {
                "toolUseId": "tooluse_" + hashlib.sha256(self._last_user_text(body).encode()).hexdigest()[:16],
                "name": name,
                "input": {"query": self._last_user_text(body)},
            }
            words = _words("Let me check.")
        else:
            words, tool = _words("Echo: " + self._last_user_text(body)), None
        stop = "tool_use" if tool else "end_turn"
        limit = (body.get("inferenceConfig") or {}).get("maxTokens")
        if limit is not None and len(words) > limit and not tool:
            words, stop = words[:limit], "max_tokens"
        if behaviour.stop_reason:
            stop = behaviour.stop_reason
        return words, tool, stop, input_tokens

    def _usage(self, input_tokens: int, output_tokens: int, behaviour: Behaviour) -> dict[str, int]:
        usage = {"inputTokens": input_tokens, "outputTokens": output_tokens, "totalTokens": input_tokens + output_tokens}
        if behaviour.cache_read:
            usage["cacheReadInputTokens"] = behaviour.cache_read
            usage["cacheWriteInputTokens"] = 0
            usage["totalTokens"] += behaviour.cache_read
        return usage

    def _converse(self, body: dict[str, Any], behaviour: Behaviour) -> Reply:
        words, tool, stop, input_tokens = self._answer(body, behaviour)
        content: list[dict[str, Any]] = []
        if words:
            content.append({"text": " ".join(words)})
        if tool:
            content.append({"toolUse": tool})
        output_tokens = len(words) + (len(json.dumps(tool["input"]).split()) if tool else 0)
        payload = {
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": stop,
            "usage": self._usage(input_tokens, output_tokens, behaviour),
            "metrics": {"latencyMs": 12},
        }
        return Reply(body=json.dumps(payload).encode(), headers={"Content-Type": "application/json"})

    def _converse_stream(self, body: dict[str, Any], behaviour: Behaviour) -> Reply:
        words, tool, stop, input_tokens = self._answer(body, behaviour)
        frames = [event_frame("messageStart", {"role": "assistant", "p": _padding(3)})]
        for i, word in enumerate(words):
            text = word if i == 0 else " " + word
            frames.append(
                event_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": text}, "p": _padding(i)})
            )
        if words:
            frames.append(event_frame("contentBlockStop", {"contentBlockIndex": 0, "p": _padding(7)}))
        output_tokens = len(words)
        if tool:
            index = 1 if words else 0
            frames.append(
                event_frame(
                    "contentBlockStart",
                    {"contentBlockIndex": index, "start": {"toolUse": {"toolUseId": tool["toolUseId"], "name": tool["name"]}}, "p": "ab"},
                )
            )
            arguments = json.dumps(tool["input"])
            step = max(1, len(arguments) // 3)
            for start in range(0, len(arguments), step):
                frames.append(
                    event_frame(
                        "contentBlockDelta",
                        {"contentBlockIndex": index, "delta": {"toolUse": {"input": arguments[start : start + step]}}, "p": "x"},
                    )
                )
            frames.append(event_frame("contentBlockStop", {"contentBlockIndex": index, "p": "abc"}))
            output_tokens += len(arguments.split())
        if behaviour.stream_exception:
            payload: dict[str, Any] = {"message": "The model failed while streaming."}
            if behaviour.stream_exception == "modelStreamErrorException":
                payload.update(originalStatusCode=500, originalMessage="CUDA out of memory")
            elif behaviour.stream_exception == "throttlingException":
                payload["message"] = "Too many tokens, please wait before trying again."
            frames = frames[:3] + [exception_frame(behaviour.stream_exception, payload)]
            return Reply(headers={"Content-Type": "application/vnd.amazon.eventstream"}, frames=frames)
        frames.append(event_frame("messageStop", {"stopReason": stop, "p": "abcd"}))
        if not behaviour.no_metadata:
            frames.append(
                event_frame(
                    "metadata",
                    {"usage": self._usage(input_tokens, output_tokens, behaviour), "metrics": {"latencyMs": 20}, "p": "ab"},
                )
            )
        return Reply(
            headers={"Content-Type": "application/vnd.amazon.eventstream"},
            frames=frames,
            cut_after=3 if behaviour.cut else None,
            cut_mid_frame=behaviour.cut_mid_frame,
        )

    # -------------------------------------------------------------- embeddings
    def _invoke(self, model: str, body: dict[str, Any]) -> Reply:
        behaviour = self._queue.pop(0) if self._queue else self.behaviour
        if behaviour.error:
            status, code, message = ERRORS[behaviour.error]
            return aws_error(status, code, message)
        if model.startswith("amazon.titan-embed"):
            text = body.get("inputText")
            if not isinstance(text, str) or not text:
                return aws_error(400, "ValidationException", "Malformed input request: inputText required")
            dims = body.get("dimensions", 1024)
            if dims not in (256, 512, 1024):
                return aws_error(400, "ValidationException", "Malformed input request: dimensions")
            payload = {
                "embedding": _vector(text, dims, body.get("normalize", True)),
                "inputTextTokenCount": len(_words(text)),
                "embeddingsByType": {},
            }
            return Reply(body=json.dumps(payload).encode(), headers={"Content-Type": "application/json"})
        if model.startswith("cohere.embed"):
            texts = body.get("texts")
            if not isinstance(texts, list) or not texts or len(texts) > 96 or "input_type" not in body:
                return aws_error(400, "ValidationException", "Malformed input request: texts/input_type")
            payload = {
                "embeddings": [_vector(f"{body['input_type']}:{t}", 1024) for t in texts],
                "id": "emb-1",
                "response_type": "embeddings_floats",
                "texts": texts,
            }
            tokens = sum(len(_words(t)) for t in texts)
            return Reply(
                body=json.dumps(payload).encode(),
                headers={"Content-Type": "application/json", "X-Amzn-Bedrock-Input-Token-Count": str(tokens)},
            )
        return aws_error(400, "ValidationException", f"model {model} does not support InvokeModel here")


@contextmanager
def start_fake_bedrock() -> Iterator[FakeBedrock]:
    with serving(FakeBedrock()) as fake:
        yield fake
