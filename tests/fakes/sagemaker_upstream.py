"""A loopback fake of the SageMaker Runtime REST API, for boto3 with ``endpoint_url``.

Routes (botocore service model ``sagemaker-runtime`` 2017-05-13):
- ``POST /endpoints/{EndpointName}/invocations``: the container's JSON answer;
- ``POST /endpoints/{EndpointName}/invocations-response-stream``: event-stream frames
  ``PayloadPart`` (``Bytes`` is the raw frame payload) carrying the container's
  streamed output cut into small parts at arbitrary byte offsets (lines and UTF-8
  characters straddle parts, as on the real service); errors mid-stream as a
  ``ModelStreamError`` exception message.

The container behind an endpoint is chosen by the endpoint name's prefix:
``tgi-*`` (Hugging Face TGI), ``lmi-*`` (DJL LMI rolling batch, JSON lines) and
``vllm-*`` (OpenAI-compatible chat completions / SSE). The model answers
``"Echo: <last user text>"`` (taken from the chatml prompt or the messages), one
word per token.

Faults: a keyword in the prompt/messages: ``[context]`` (ModelError 424 wrapping a
container 400 input-length error), ``[overloaded]`` (ModelError wrapping 429),
``[throttle]`` (ThrottlingException), ``[not_ready]`` (ModelNotReadyException 429),
``[missing]`` (ValidationError: endpoint not found), ``[stream_error]`` (ModelStreamError
event mid-stream), ``[cut]`` (connection closed half-way through the stream), ``[lmi_error]`` (LMI
``finish_reason: "error"`` mid-stream), ``[length]`` (max tokens reached).

Scale to zero: an inference component (the ``X-Amzn-SageMaker-Inference-Component`` header)
named in ``scaled_to_zero`` answers SageMaker's ValidationError for a component with no
copies, until a test removes it (the component has scaled out).
"""

from __future__ import annotations

import json
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator
from urllib.parse import unquote

from tests.fakes.aws_eventstream import AwsFake, Recorded, Reply, aws_error, event_frame, exception_frame, serving

_ROUTE = re.compile(r"^/endpoints/(?P<name>[^/]+)/(?P<op>invocations|invocations-response-stream)$")
_CHATML_USER = re.compile(r"<\|im_start\|>user\n(.*?)<\|im_end\|>", re.S)
PART_SIZE = 7  # bytes per PayloadPart: small enough to split lines and characters


def _model_error(original_status: int, original: str) -> Reply:
    message = f'Received client error ({original_status}) from primary with message "{original}". See logs.'
    return aws_error(
        424,
        "ModelError",
        message,
        {
            "OriginalStatusCode": original_status,
            "OriginalMessage": original,
            "LogStreamArn": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/x",
            "ErrorCode": "CLIENT_ERROR_FROM_MODEL",
        },
    )


NO_CAPACITY = ("Inference Component has no capacity to process this request. ApplicationAutoScaling may be "
               "in-progress (if configured) or try to increase the capacity by invoking "
               "UpdateInferenceComponentRuntimeConfig API.")


@dataclass
class FakeSageMaker(AwsFake):
    scaled_to_zero: set[str] = field(default_factory=set)  # inference components with no copies

    def handle(self, request: Recorded) -> Reply:
        match = _ROUTE.match(request.path.split("?", 1)[0])
        if match is None:
            return aws_error(404, "UnknownOperationException", "no such route")
        component = {k.lower(): v for k, v in request.headers.items()}.get("x-amzn-sagemaker-inference-component")
        if component is not None and component in self.scaled_to_zero:
            return aws_error(400, "ValidationError", NO_CAPACITY)
        name = unquote(match.group("name"))
        stream = match.group("op") == "invocations-response-stream"
        body = request.json()
        kind = name.split("-", 1)[0]
        if kind not in ("tgi", "lmi", "vllm"):
            return aws_error(400, "ValidationError", f"Endpoint {name} of account 123456789012 not found.")
        text = json.dumps(body)
        if "[missing]" in text:
            return aws_error(400, "ValidationError", f"Endpoint {name} of account 123456789012 not found.")
        if "[throttle]" in text:
            return aws_error(400, "ThrottlingException", "Rate exceeded")
        if "[not_ready]" in text:
            return aws_error(429, "ModelNotReadyException", "Model is not ready.")
        if "[overloaded]" in text:
            return _model_error(429, '{"error":"Model is overloaded","error_type":"overloaded"}')
        if "[context]" in text:
            if kind == "vllm":
                original = json.dumps({"object": "error", "message": "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens.", "type": "BadRequestError", "code": 400})
            else:
                original = '{"error":"Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. Given: 4000 `inputs` tokens and 200 `max_new_tokens`","error_type":"validation"}'
            return _model_error(400, original)
        if kind == "vllm":
            return self._vllm(body, stream)
        return self._generate(kind, body, stream)

    # -------------------------------------------------------------- helpers
    @staticmethod
    def _stream_reply(data: bytes, *, error_after: int | None = None, cut_after: int | None = None) -> Reply:
        parts = [data[i : i + PART_SIZE] for i in range(0, len(data), PART_SIZE)]
        frames = [event_frame("PayloadPart", part, content_type="application/octet-stream") for part in parts]
        if error_after is not None:
            frames = frames[:error_after] + [
                exception_frame("ModelStreamError", {"Message": "Your model failed mid-stream.", "ErrorCode": "ModelStreamError"})
            ]
        return Reply(
            headers={"Content-Type": "application/vnd.amazon.eventstream", "X-Amzn-SageMaker-Content-Type": "text/event-stream"},
            frames=frames,
            cut_after=None if cut_after is None else max(cut_after, len(frames) // 2),
        )

    # -------------------------------------------------------------- TGI / LMI
    def _generate(self, kind: str, body: dict[str, Any], stream: bool) -> Reply:
        prompt = body.get("inputs")
        if not isinstance(prompt, str):
            return _model_error(422, '{"error":"missing field `inputs`","error_type":"validation"}')
        params = body.get("parameters") or {}
        users = _CHATML_USER.findall(prompt)
        words = ("Echo: " + (users[-1] if users else "ok")).split()
        finish = "eos_token"
        limit = params.get("max_new_tokens")
        if isinstance(limit, int) and len(words) > limit:
            words, finish = words[:limit], "length"
        if "[length]" in prompt:
            finish = "length"
        input_length = len(prompt.split())
        text = " ".join(words)
        if not stream:
            if kind == "tgi":
                payload: Any = [{"generated_text": text, "details": {"finish_reason": finish, "generated_tokens": len(words), "seed": None, "prefill": [], "tokens": []}}]
            else:
                payload = {"generated_text": text, "details": {"finish_reason": finish, "generated_tokens": len(words), "inputs": prompt}}
            return Reply(body=json.dumps(payload).encode(), headers={"Content-Type": "application/json"})
        lines: list[str] = []
        for i, word in enumerate(words):
            piece = word if i == 0 else " " + word
            token_key = "logprob" if kind == "tgi" else "log_prob"
            event: dict[str, Any] = {"token": {"id": i, "text": piece, token_key: -0.1}}
            if kind == "tgi":
                event["token"]["special"] = False
                event.update(generated_text=None, details=None)
            lines.append(json.dumps(event, ensure_ascii=False))
        if "[lmi_error]" in prompt:
            lines = lines[:1] + [json.dumps({"token": {"id": -1, "text": "", "log_prob": -1, "special_token": True}, "generated_text": "", "details": {"finish_reason": "error", "generated_tokens": None, "inputs": None}})]
        else:
            final: dict[str, Any]
            if kind == "tgi":
                final = {
                    "token": {"id": 2, "text": "</s>", "logprob": 0.0, "special": True},
                    "generated_text": text,
                    "details": {"finish_reason": finish, "generated_tokens": len(words) + 1, "input_length": input_length, "seed": None},
                }
            else:
                final = {"token": {"id": 9, "text": "", "log_prob": 0.0}, "generated_text": text, "details": {"finish_reason": finish, "generated_tokens": len(words), "inputs": prompt}}
            lines.append(json.dumps(final, ensure_ascii=False))
        if kind == "tgi":
            data = "".join(f"data:{line}\n\n" for line in lines).encode()
        else:
            data = "".join(f"{line}\n" for line in lines).encode()
        return self._stream_reply(
            data,
            error_after=3 if "[stream_error]" in prompt else None,
            cut_after=3 if "[cut]" in prompt else None,
        )

    # -------------------------------------------------------------- vLLM / OpenAI
    def _vllm(self, body: dict[str, Any], stream: bool) -> Reply:
        messages = body.get("messages") or []
        last_user = next((m for m in reversed(messages) if m.get("role") == "user"), {})
        content = last_user.get("content")
        user_text = content if isinstance(content, str) else " ".join(p.get("text", "") for p in content or [])
        last = messages[-1] if messages else {}
        created = int(time.time())
        model = body.get("model", "served-model")
        tool_call = None
        if last.get("role") == "tool":
            words = ("Tool said: " + str(last.get("content"))).split()
        elif body.get("tools") and body.get("tool_choice") != "none":
            words = []
            tool_call = {"id": "chatcmpl-tool-1", "type": "function", "function": {"name": body["tools"][0]["function"]["name"], "arguments": json.dumps({"query": user_text})}}
        else:
            words = ("Echo: " + user_text).split()
        finish = "tool_calls" if tool_call else "stop"
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if limit and len(words) > limit:
            words, finish = words[:limit], "length"
        usage = {"prompt_tokens": len(user_text.split()), "completion_tokens": max(1, len(words)), "total_tokens": len(user_text.split()) + max(1, len(words)), "prompt_tokens_details": {"cached_tokens": 0}}
        if not stream:
            message: dict[str, Any] = {"role": "assistant", "content": " ".join(words) if words else None}
            if tool_call:
                message["tool_calls"] = [tool_call]
            payload = {"id": "chatcmpl-vllm-1", "object": "chat.completion", "created": created, "model": model,
                       "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}], "usage": usage}
            return Reply(body=json.dumps(payload).encode(), headers={"Content-Type": "application/json"})
        base = {"id": "chatcmpl-vllm-1", "object": "chat.completion.chunk", "created": created, "model": model}
        chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}]
        for i, word in enumerate(words):
            chunks.append({**base, "choices": [{"index": 0, "delta": {"content": word if i == 0 else " " + word}, "finish_reason": None}]})
        if tool_call:
            args = tool_call["function"]["arguments"]
            chunks.append({**base, "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": tool_call["id"], "type": "function", "function": {"name": tool_call["function"]["name"], "arguments": ""}}]}, "finish_reason": None}]})
            half = len(args) // 2
            for fragment in (args[:half], args[half:]):
                chunks.append({**base, "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": fragment}}]}, "finish_reason": None}]})
        chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            chunks.append({**base, "choices": [], "usage": usage})
        data = "".join(f"data: {json.dumps(c, ensure_ascii=False)}\n\n" for c in chunks) + "data: [DONE]\n\n"
        text = json.dumps(body)
        return self._stream_reply(
            data.encode(),
            error_after=3 if "[stream_error]" in text else None,
            cut_after=3 if "[cut]" in text else None,
        )


@contextmanager
def start_fake_sagemaker() -> Iterator[FakeSageMaker]:
    with serving(FakeSageMaker()) as fake:
        yield fake
