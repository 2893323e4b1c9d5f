"""Gemini generateContent responses and streams -> OpenAI chat completions. Pure functions, no I/O.

Tool-call ids come from ``call_ids``: Gemini's own ``functionCall.id`` when it
sends one, else a synthetic id stable for the whole response, with any
``thoughtSignature`` carried inside it.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from llm_mesh.errors import ContentPolicyViolation, UpstreamError
from llm_mesh.providers.common.malformed import reads_upstream
from llm_mesh.providers.common.usage import make_usage
from llm_mesh.providers.gemini.call_ids import encode_call_id, id_tag, synthetic_id
from llm_mesh.wire.openai_chat import (
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    ChunkChoice,
    Delta,
    FunctionCall,
    ResponseMessage,
    ToolCall,
    ToolCallDelta,
    ToolCallDeltaFunction,
    Usage,
)

_CONTENT_FILTER = {
    "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII",
    "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION",
}
_BROKEN_CALL = {"MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS"}


def finish_reason(reason: str | None, has_tool_calls: bool) -> str | None:
    """Gemini finishReason -> OpenAI finish_reason (None while still generating)."""
    if not reason:
        return None
    if reason == "MAX_TOKENS":
        return "length"
    if reason in _CONTENT_FILTER:
        return "content_filter"
    # STOP (also what Gemini reports after function calls), LANGUAGE, OTHER, UNSPECIFIED...
    return "tool_calls" if has_tool_calls else "stop"


# ---------------------------------------------------------------- non-streaming
def usage(metadata: dict[str, Any] | None) -> Usage | None:
    if not metadata:
        return None
    prompt = int(metadata.get("promptTokenCount") or 0) + int(metadata.get("toolUsePromptTokenCount") or 0)
    thoughts = int(metadata.get("thoughtsTokenCount") or 0)
    completion = int(metadata.get("candidatesTokenCount") or 0) + thoughts
    total = int(metadata.get("totalTokenCount") or 0) or prompt + completion
    cached = metadata.get("cachedContentTokenCount")
    return make_usage(
        prompt,
        completion,
        total=total,
        cached=int(cached) if cached is not None else None,
        reasoning=thoughts or None,
    )


def _check_blocked(data: dict[str, Any]) -> None:
    feedback = data.get("promptFeedback") or {}
    reason = feedback.get("blockReason")
    if reason and not data.get("candidates"):
        raise ContentPolicyViolation(f"the prompt was blocked by the provider's safety filters ({reason})")


def _check_broken(reason: str | None) -> None:
    if reason in _BROKEN_CALL:
        raise UpstreamError(f"the model produced an invalid function call ({reason})", code="upstream_bad_tool_call")


def _tool_call_from_part(part: dict[str, Any], tag: str, n: int) -> ToolCall:
    fc = part["functionCall"]
    call_id = fc.get("id") or synthetic_id(tag, n)
    signature = part.get("thoughtSignature") or fc.get("thoughtSignature")
    return ToolCall(
        id=encode_call_id(call_id, signature),
        function=FunctionCall(name=fc.get("name", ""), arguments=json.dumps(fc.get("args") or {}, ensure_ascii=False)),
    )


@reads_upstream("gemini")
def chat_response(data: Any, model: str) -> ChatCompletion:
    if not isinstance(data, dict):
        raise UpstreamError("provider returned a malformed generateContent response")
    _check_blocked(data)
    tag = id_tag(data.get("responseId"))
    choices: list[Choice] = []
    for position, candidate in enumerate(data.get("candidates") or []):
        reason = candidate.get("finishReason")
        texts: list[str] = []
        calls: list[ToolCall] = []
        for part in (candidate.get("content") or {}).get("parts") or []:
            if part.get("thought"):
                continue
            if "functionCall" in part:
                calls.append(_tool_call_from_part(part, tag, len(calls)))
            elif isinstance(part.get("text"), str):
                texts.append(part["text"])
        if not texts and not calls:
            _check_broken(reason)
        choices.append(Choice(
            index=int(candidate.get("index", position)),
            message=ResponseMessage(content="".join(texts) if texts or not calls else None, tool_calls=calls or None),
            finish_reason=finish_reason(reason, bool(calls)) or "stop",
        ))
    if not choices:
        raise UpstreamError("provider returned no candidates")
    return ChatCompletion(
        id=f"chatcmpl-{data.get('responseId') or uuid.uuid4().hex}",
        created=int(time.time()),
        model=model,
        choices=choices,
        usage=usage(data.get("usageMetadata")),
    )


# ---------------------------------------------------------------- streaming
@dataclass
class _CandidateState:
    calls: int = 0
    finished: bool = False


@dataclass
class StreamTranslator:
    """Turns streamGenerateContent chunks into OpenAI chunks, tracking completion.

    ``feed`` takes one parsed SSE ``data`` object; ``close`` must be called when
    the upstream stream ends and raises a ``stream_cut`` error if any candidate
    never reported a finishReason (Gemini streams have no [DONE] sentinel).
    """

    model: str
    choices: int = 1
    id: str | None = None
    created: int = field(default_factory=lambda: int(time.time()))
    _tag: str | None = None
    _started: bool = False
    _candidates: dict[int, _CandidateState] = field(default_factory=dict)
    _usage: Usage | None = None

    def _chunk(self, choices: list[ChunkChoice], usage_: Usage | None = None) -> ChatCompletionChunk:
        return ChatCompletionChunk(
            id=self.id or "", created=self.created, model=self.model, choices=choices, usage=usage_
        )

    def feed(self, data: dict[str, Any]) -> list[ChatCompletionChunk]:
        out: list[ChatCompletionChunk] = []
        if not self._started:
            self._started = True
            self.id = f"chatcmpl-{data.get('responseId') or uuid.uuid4().hex}"
            self._tag = id_tag(data.get("responseId"))
            _check_blocked(data)
            out.append(self._chunk([
                ChunkChoice(index=i, delta=Delta(role="assistant", content="")) for i in range(self.choices)
            ]))
        else:
            _check_blocked(data)
        for position, candidate in enumerate(data.get("candidates") or []):
            index = int(candidate.get("index", position))
            state = self._candidates.setdefault(index, _CandidateState())
            text: list[str] = []
            calls: list[ToolCallDelta] = []
            for part in (candidate.get("content") or {}).get("parts") or []:
                if part.get("thought"):
                    continue
                if "functionCall" in part:
                    call = _tool_call_from_part(part, self._tag or "", state.calls)
                    calls.append(ToolCallDelta(
                        index=state.calls, id=call.id, type="function",
                        function=ToolCallDeltaFunction(name=call.function.name, arguments=call.function.arguments),
                    ))
                    state.calls += 1
                elif isinstance(part.get("text"), str) and part["text"]:
                    text.append(part["text"])
            if text or calls:
                out.append(self._chunk([ChunkChoice(
                    index=index, delta=Delta(content="".join(text) if text else None, tool_calls=calls or None)
                )]))
            reason = candidate.get("finishReason")
            if reason and not state.finished:
                if state.calls == 0 and not text:
                    _check_broken(reason)
                state.finished = True
                out.append(self._chunk([ChunkChoice(
                    index=index, delta=Delta(), finish_reason=finish_reason(reason, state.calls > 0),  # type: ignore[arg-type]
                )]))
        if data.get("usageMetadata"):
            self._usage = usage(data["usageMetadata"])
        return out

    def close(self) -> list[ChatCompletionChunk]:
        expected = set(range(self.choices))
        finished = {i for i, s in self._candidates.items() if s.finished}
        if not self._started or not expected <= finished:
            raise UpstreamError("provider ended the stream before it completed", code="stream_cut")
        return [self._chunk([], self._usage)] if self._usage is not None else []

