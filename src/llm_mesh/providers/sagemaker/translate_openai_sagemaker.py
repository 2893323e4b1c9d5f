"""OpenAI chat (canonical) <-> SageMaker container payloads (TGI, LMI, vLLM/OpenAI). Pure.

Chat templates (``prompt_template`` option) for the text-generation payloads:
- ``chatml``: ``<|im_start|>{role}\\n{content}<|im_end|>\\n`` per message, then
  ``<|im_start|>assistant\\n`` (Qwen, many fine-tunes);
- ``llama3``: ``<|begin_of_text|>`` + ``<|start_header_id|>{role}<|end_header_id|>\\n\\n{content}<|eot_id|>``
  per message, then the assistant header;
- ``mistral``: ``<s>[INST] {user} [/INST]{assistant}</s>``; the system text is prepended
  to the first user turn;
- ``plain``: ``System: ...`` / ``User: ...`` / ``Assistant: ...`` lines, ending ``Assistant:``.
Tool calls and results are rendered as text (``tool`` role / JSON); text-generation
containers have no native tool calling, so tools are not offered on those formats.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from llm_mesh.errors import InvalidRequest, UpstreamError
from llm_mesh.providers.common.messages import stop_list
from llm_mesh.providers.openai.translate_openai_openai import chat_request_body
from llm_mesh.tokens import count_text
from llm_mesh.wire.openai_chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    Delta,
    ResponseMessage,
    Usage,
    message_text,
)

FINISH_REASONS = {"length": "length", "eos_token": "stop", "stop_sequence": "stop", "stop": "stop"}


# ------------------------------------------------------------------ prompt rendering
def _turns(request: ChatCompletionRequest) -> list[tuple[str, str]]:
    turns: list[tuple[str, str]] = []
    for message in request.messages:
        if message.role == "user":
            for part in message.content if not isinstance(message.content, str) else []:
                if part.type != "text":
                    raise InvalidRequest(
                        f"content part type {part.type!r} is not supported by this text-generation endpoint",
                        param="messages",
                    )
        text = message_text(message.content)
        role = "system" if message.role == "developer" else message.role
        if message.role == "assistant" and message.tool_calls:
            calls = [{"name": c.function.name, "arguments": c.function.arguments} for c in message.tool_calls]
            text = (text + "\n" if text else "") + json.dumps({"tool_calls": calls})
        turns.append((role, text))
    return turns


def render_prompt(request: ChatCompletionRequest, template: str) -> str:
    turns = _turns(request)
    if template == "chatml":
        body = "".join(f"<|im_start|>{role}\n{text}<|im_end|>\n" for role, text in turns)
        return body + "<|im_start|>assistant\n"
    if template == "llama3":
        body = "".join(f"<|start_header_id|>{role}<|end_header_id|>\n\n{text}<|eot_id|>" for role, text in turns)
        return "<|begin_of_text|>" + body + "<|start_header_id|>assistant<|end_header_id|>\n\n"
    if template == "mistral":
        system = "\n\n".join(text for role, text in turns if role == "system")
        out = "<s>"
        pending_system = system
        for role, text in turns:
            if role == "system":
                continue
            if role == "assistant":
                out += f"{text}</s>"
            else:
                prefix = "" if role == "user" else f"[{role}] "
                if pending_system:
                    text, pending_system = f"{pending_system}\n\n{text}", ""
                out += f"[INST] {prefix}{text} [/INST]"
        return out
    names = {"system": "System", "user": "User", "assistant": "Assistant", "tool": "Tool"}
    return "".join(f"{names.get(role, role.title())}: {text}\n" for role, text in turns) + "Assistant:"


def _stops(request: ChatCompletionRequest) -> list[str] | None:
    return stop_list(request.stop) or None


def _check_common(request: ChatCompletionRequest) -> None:
    if request.n is not None and request.n > 1:
        raise InvalidRequest("this endpoint returns a single choice; n > 1 is not supported", param="n")
    if request.tools and request.tool_choice != "none":
        raise InvalidRequest("tools are not supported by text-generation endpoints (use payload_format vllm_openai)", param="tools")


def _generate_request(
    request: ChatCompletionRequest, template: str, *, stream: bool, top_p_open_interval: bool, stop_key: str
) -> dict[str, Any]:
    """The TGI and LMI (DJL) ``{"inputs", "parameters"}`` body; they differ only in how they
    take top_p and what they call the stop list."""
    _check_common(request)
    parameters: dict[str, Any] = {"details": True}
    if request.output_token_limit is not None:
        parameters["max_new_tokens"] = request.output_token_limit
    # Temperature 0 means greedy: sampling off rather than a zero temperature the servers reject.
    if request.temperature is not None and request.temperature > 0:
        parameters["temperature"] = request.temperature
        parameters["do_sample"] = True
    elif request.temperature == 0:
        parameters["do_sample"] = False
    if request.top_p is not None and (not top_p_open_interval or 0 < request.top_p < 1):
        parameters["top_p"] = request.top_p
    if request.seed is not None:
        parameters["seed"] = request.seed
    stops = _stops(request)
    if stops:
        parameters[stop_key] = stops
    body: dict[str, Any] = {"inputs": render_prompt(request, template), "parameters": parameters}
    if stream:
        body["stream"] = True
    return body


def tgi_request(request: ChatCompletionRequest, template: str, *, stream: bool) -> dict[str, Any]:
    # TGI requires 0 < top_p < 1 (1 means "off"), and calls the stop list "stop".
    return _generate_request(request, template, stream=stream, top_p_open_interval=True, stop_key="stop")


def lmi_request(request: ChatCompletionRequest, template: str, *, stream: bool) -> dict[str, Any]:
    return _generate_request(request, template, stream=stream, top_p_open_interval=False, stop_key="stop_sequences")


def vllm_request(request: ChatCompletionRequest, *, stream: bool) -> dict[str, Any]:
    return chat_request_body(request, stream=stream)


# ------------------------------------------------------------------ responses
def _new_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def _details(item: dict[str, Any]) -> dict[str, Any]:
    details = item.get("details")
    return details if isinstance(details, dict) else {}


def _finish(details: dict[str, Any]) -> str:
    reason = details.get("finish_reason", details.get("finish reason"))
    if reason == "error":
        raise UpstreamError("the SageMaker model failed during generation", code="model_error")
    return FINISH_REASONS.get(str(reason), "stop")


def _usage(details: dict[str, Any], prompt: str, generated: str) -> Usage:
    prefill = details.get("prefill")
    if isinstance(details.get("input_length"), int):
        prompt_tokens = details["input_length"]
    elif isinstance(prefill, list) and prefill:
        prompt_tokens = len(prefill)
    else:
        prompt_tokens = count_text(prompt)  # estimate: the container does not report it
    completion = details.get("generated_tokens")
    completion_tokens = completion if isinstance(completion, int) else count_text(generated)
    return Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, total_tokens=prompt_tokens + completion_tokens)


def generate_response(data: Any, *, model: str, prompt: str) -> ChatCompletion:
    """TGI (a list) or LMI (an object, or a list with tgi_compat) non-streaming response."""
    item = data[0] if isinstance(data, list) and data else data
    if not isinstance(item, dict) or not isinstance(item.get("generated_text"), str):
        raise UpstreamError("SageMaker endpoint returned an unexpected payload (no generated_text)")
    details = _details(item)
    text = item["generated_text"]
    return ChatCompletion(
        id=_new_id(),
        created=int(time.time()),
        model=model,
        choices=[Choice(index=0, message=ResponseMessage(content=text), finish_reason=_finish(details))],
        usage=_usage(details, prompt, text),
    )


def vllm_response(data: Any) -> ChatCompletion:
    try:
        return ChatCompletion.model_validate(data)
    except Exception:
        raise UpstreamError("SageMaker endpoint returned a malformed chat completion") from None


# ------------------------------------------------------------------ streams
class LineBuffer:
    """Reassembles lines from PayloadPart bytes, which may split anywhere (even inside UTF-8)."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> list[str]:
        self._pending += data
        *lines, self._pending = self._pending.split(b"\n")
        return [line.decode("utf-8").rstrip("\r") for line in lines]

    def flush(self) -> list[str]:
        rest, self._pending = self._pending, b""
        return [rest.decode("utf-8", errors="replace").rstrip("\r")] if rest.strip() else []


@dataclass
class GenerateStreamTranslator:
    """TGI SSE lines (``data:{...}``) or LMI JSON lines -> OpenAI chunks."""

    model: str
    prompt: str
    response_id: str = field(default_factory=_new_id)
    created: int = field(default_factory=lambda: int(time.time()))
    complete: bool = False
    _started: bool = False
    _text: list[str] = field(default_factory=list)

    def _chunk(self, delta: Delta, finish: str | None = None) -> ChatCompletionChunk:
        return ChatCompletionChunk(
            id=self.response_id, created=self.created, model=self.model,
            choices=[ChunkChoice(index=0, delta=delta, finish_reason=finish)],
        )

    def line(self, raw: str) -> list[ChatCompletionChunk]:
        line = raw.strip()
        if not line or line.startswith(":") or line.startswith("event:"):
            return []
        if line.startswith("data:"):
            line = line[5:].strip()
        if not line:
            return []
        try:
            event = json.loads(line)
        except ValueError:
            raise UpstreamError("SageMaker endpoint sent a malformed stream line") from None
        if not isinstance(event, dict):
            raise UpstreamError("SageMaker endpoint sent a malformed stream event")
        if "error" in event and "token" not in event:  # TGI error event
            raise UpstreamError(f"SageMaker model failed mid-stream: {str(event.get('error'))[:300]}", code="model_stream_error")
        out: list[ChatCompletionChunk] = []
        if not self._started:
            self._started = True
            out.append(self._chunk(Delta(role="assistant", content="")))
        token = event.get("token") or {}
        text = token.get("text") or ""
        details = _details(event)
        finishing = event.get("generated_text") is not None or bool(details)
        if text and not token.get("special", token.get("special_token", False)):
            self._text.append(text)
            out.append(self._chunk(Delta(content=text)))
        if finishing:
            reason = _finish(details)  # raises on LMI finish_reason "error"
            self.complete = True
            out.append(self._chunk(Delta(), reason))
            usage = _usage(details, self.prompt, "".join(self._text))
            out.append(ChatCompletionChunk(id=self.response_id, created=self.created, model=self.model, choices=[], usage=usage))
        return out


@dataclass
class OpenAIStreamTranslator:
    """SSE ``data:`` lines of OpenAI chat chunks, ending ``data: [DONE]``."""

    complete: bool = False
    _data: list[str] = field(default_factory=list)

    def line(self, raw: str) -> list[ChatCompletionChunk]:
        line = raw.rstrip("\r")
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return []
        name, _, value = line.partition(":")
        if name == "data":
            self._data.append(value[1:] if value.startswith(" ") else value)
        return []

    def end(self) -> list[ChatCompletionChunk]:
        return self._dispatch()

    def _dispatch(self) -> list[ChatCompletionChunk]:
        if not self._data:
            return []
        data, self._data = "\n".join(self._data), []
        if data == "[DONE]":
            self.complete = True
            return []
        try:
            payload = json.loads(data)
        except ValueError:
            raise UpstreamError("SageMaker endpoint sent a malformed stream event") from None
        if isinstance(payload, dict) and "error" in payload:
            raise UpstreamError("SageMaker model reported an error mid-stream", code="model_stream_error")
        try:
            return [ChatCompletionChunk.model_validate(payload)]
        except Exception:
            raise UpstreamError("SageMaker endpoint sent a malformed stream chunk") from None
