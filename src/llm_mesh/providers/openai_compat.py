"""Shared engine for upstreams that speak OpenAI Chat Completions with their own accent.

Azure OpenAI, Mistral, AI21, Snowflake Cortex, Databricks Model Serving and
Hugging Face TGI all accept an OpenAI-shaped body and answer with OpenAI-shaped
completions and SSE chunks, but differ in auth, URLs, accepted parameters, finish
reasons, where usage appears in a stream, and how errors look. Each of those
providers subclasses :class:`OpenAILikeProvider` and overrides only the hooks
where it differs; everything identical is delegated to the ``openai`` provider's
translator (``translate_openai_openai``) and ``http_base``.

:func:`stream_chunks` is the SSE read loop (``[DONE]``, malformed events and
chunks, cut streams) shared by :class:`OpenAILikeProvider` and the plain ``openai``
provider; each passes its own per-payload ``feed``.

:class:`StreamNormalizer` turns any of their streams into the mesh's stream
contract: the first chunk carries ``role: assistant``, tool-call deltas carry
``type`` with their ``id``, chunks carry no usage, and the last usage seen (some
upstreams repeat running totals on every chunk, some put it on the finishing
chunk, some send a ``choices: []`` chunk) is emitted once at the end as a
``choices: []`` usage chunk.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, AsyncIterator, Callable, Iterable, Mapping

import httpx
from pydantic import ValidationError

from llm_mesh.errors import InvalidRequest, MeshError, UpstreamError
from llm_mesh.providers.base import Capabilities
from llm_mesh.providers.http_base import ErrorClassifier, iter_lines, open_stream, parse_event, post_json, stream_cut
from llm_mesh.providers.openai import translate_openai_openai as openai_wire
from llm_mesh.providers.sse import iter_sse
from llm_mesh.wire.openai_chat import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, Usage
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest, EmbeddingsResponse

# Finish reasons seen from OpenAI-like servers that OpenAI itself does not use.
COMMON_FINISH_REASONS: dict[str, str] = {
    "eos_token": "stop",  # TGI
    "stop_sequence": "stop",  # TGI
    "end_turn": "stop",
    "model_length": "length",  # Mistral: the model's context filled up
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "function_call": "tool_calls",
}
_OPENAI_FINISH = {"stop", "length", "tool_calls", "content_filter"}
# Finish reasons that mean generation failed upstream (Mistral, vLLM): an error, not an answer.
FAILURE_FINISH_REASONS = frozenset({"error"})


def failed_choice(data: Any) -> bool:
    choices = data.get("choices") if isinstance(data, dict) else None
    return any(
        isinstance(choice, dict) and choice.get("finish_reason") in FAILURE_FINISH_REASONS for choice in choices or ()
    )


def map_finish_reason(value: Any, extra: Mapping[str, str] | None = None) -> Any:
    if value is None or value in _OPENAI_FINISH:
        return value
    if extra and value in extra:
        return extra[value]
    return COMMON_FINISH_REASONS.get(value, "stop")


def normalise_completion(data: Any, extra_finish: Mapping[str, str] | None = None) -> Any:
    """Map finish reasons in a non-streamed completion body (a copy; input untouched)."""
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
        return data
    data = copy.copy(data)
    choices = []
    for choice in data["choices"]:
        if isinstance(choice, dict):
            choice = dict(choice)
            choice["finish_reason"] = map_finish_reason(choice.get("finish_reason"), extra_finish)
            message = choice.get("message")
            if isinstance(message, dict) and message.get("tool_calls"):
                message = dict(message)
                message["tool_calls"] = [_with_function_type(call) for call in message["tool_calls"]]
                choice["message"] = message
        choices.append(choice)
    data["choices"] = choices
    return data


def _with_function_type(call: Any) -> Any:
    if isinstance(call, dict) and call.get("type") is None and call.get("id") is not None:
        return {**call, "type": "function"}
    return call


class StreamNormalizer:
    """Pure state machine from upstream chunk payloads to contract-shaped chunks."""

    def __init__(self, extra_finish: Mapping[str, str] | None = None) -> None:
        self._extra_finish = extra_finish
        self._role_sent = False
        self._usage: Usage | None = None
        self._template: ChatCompletionChunk | None = None
        self.finished_choices: set[int] = set()
        self.choice_indexes: set[int] = set()

    def feed(self, payload: Any) -> list[ChatCompletionChunk]:
        if not isinstance(payload, dict):
            raise ValueError("chunk is not an object")
        payload = dict(payload)
        usage = payload.pop("usage", None)
        choices = payload.get("choices") or []
        payload["choices"] = [self._choice(choice) for choice in choices]
        if usage:
            self._usage = Usage.model_validate(usage)
        if not payload["choices"]:
            # Usage-only chunk, or a service chunk (Azure's prompt_filter_results) with
            # no id/model of substance: nothing to forward now.
            if self._template is None and payload.get("id"):
                self._template = ChatCompletionChunk.model_validate({**payload, "choices": []})
            return []
        chunk = ChatCompletionChunk.model_validate(payload)
        if self._template is None or not self._template.model:
            self._template = chunk.model_copy(update={"choices": [], "usage": None})
        for choice in chunk.choices:
            self.choice_indexes.add(choice.index)
            if choice.finish_reason is not None:
                self.finished_choices.add(choice.index)
        if not self._role_sent:
            self._role_sent = True
            first = chunk.choices[0]
            if first.delta.role is None:
                first.delta.role = "assistant"
        return [chunk]

    @property
    def all_finished(self) -> bool:
        return bool(self.choice_indexes) and self.choice_indexes <= self.finished_choices

    def close(self) -> list[ChatCompletionChunk]:
        if self._usage is None or self._template is None:
            return []
        return [self._template.model_copy(update={"choices": [], "usage": self._usage})]

    def _choice(self, choice: Any) -> Any:
        if not isinstance(choice, dict):
            return choice
        choice = dict(choice)
        choice["finish_reason"] = map_finish_reason(choice.get("finish_reason"), self._extra_finish)
        delta = choice.get("delta")
        if delta is None:
            choice["delta"] = {}
        elif isinstance(delta, dict) and delta.get("tool_calls"):
            delta = dict(delta)
            delta["tool_calls"] = [
                _with_function_type({**call, "index": call.get("index", position)}) if isinstance(call, dict) else call
                for position, call in enumerate(delta["tool_calls"])
            ]
            choice["delta"] = delta
        return choice


async def stream_chunks(
    client: httpx.AsyncClient,
    name: str,
    url: str | httpx.URL,
    body: dict[str, Any],
    feed: Callable[[Any], Iterable[ChatCompletionChunk]],
    *,
    headers: dict[str, str] | None = None,
    classify: ErrorClassifier | None = None,
    finished: Callable[[], bool] | None = None,
) -> AsyncIterator[ChatCompletionChunk]:
    """POST ``body`` for an SSE answer and yield what ``feed`` makes of each JSON event.

    The stream ends at ``data: [DONE]``; without it, it is cut (``stream_cut``) unless
    ``finished()`` says the upstream had completed. An event that is not JSON, or a
    payload ``feed`` rejects with a ValueError (pydantic's ValidationError is one), is an
    UpstreamError; MeshErrors ``feed`` raises (errors reported mid-stream) pass through.
    """
    async with open_stream(client, name, url, body, headers=headers, classify=classify) as response:
        async for event in iter_sse(iter_lines(name, response)):
            if event.data == "[DONE]":
                return
            payload = parse_event(name, event.data)
            try:
                chunks = feed(payload)
            except ValueError:
                raise UpstreamError(f"provider {name} sent a malformed stream chunk") from None
            for chunk in chunks:
                yield chunk
        if finished is None or not finished():
            raise stream_cut(name)


class OpenAILikeProvider:
    """I/O for an OpenAI-like upstream; subclasses override the hooks where they differ."""

    kind = "openai_like"
    # Whether the upstream always ends a stream with ``data: [DONE]``. When False,
    # a stream is complete once every choice reported a finish_reason.
    stream_ends_with_done = True
    extra_finish_reasons: Mapping[str, str] | None = None
    offers_embeddings = True

    def __init__(self, name: str, client: httpx.AsyncClient, classify: ErrorClassifier | None = None) -> None:
        self.name = name
        self._client = client
        self._classify = classify

    # ------------------------------------------------------------------ hooks
    def capabilities(self, model: str) -> Capabilities:
        return Capabilities()

    def chat_path(self, model: str) -> str:
        return "/chat/completions"

    def embeddings_path(self, model: str) -> str:
        return "/embeddings"

    async def request_headers(self) -> dict[str, str] | None:
        """Per-request headers (short-lived tokens); static ones live on the client."""
        return None

    def chat_body(self, request: ChatCompletionRequest, *, stream: bool) -> dict[str, Any]:
        return openai_wire.chat_request_body(request, stream=stream)

    def embeddings_body(self, request: EmbeddingsRequest) -> dict[str, Any]:
        return openai_wire.embeddings_request_body(request, send_dimensions=True)

    def parse_embeddings(self, data: Any, request: EmbeddingsRequest) -> EmbeddingsResponse:
        return openai_wire.embeddings_response(data)

    def stream_error(self, payload: dict[str, Any]) -> MeshError | None:
        """An error reported inside a 200 stream, or None when the payload is a chunk."""
        if "error" in payload and "choices" not in payload:
            return UpstreamError(f"provider {self.name} reported an error mid-stream")
        if failed_choice(payload):
            return UpstreamError(f"provider {self.name} failed while generating")
        return None

    # ------------------------------------------------------------------ calls
    async def chat(self, request: ChatCompletionRequest) -> ChatCompletion:
        data = await post_json(
            self._client,
            self.name,
            self.chat_path(request.model),
            self.chat_body(request, stream=False),
            headers=await self.request_headers(),
            classify=self._classify,
        )
        if isinstance(data, dict) and "choices" not in data and "error" in data:
            raise UpstreamError(f"provider {self.name} answered with an error")
        if failed_choice(data):
            raise UpstreamError(f"provider {self.name} failed while generating")
        try:
            return openai_wire.chat_response(normalise_completion(data, self.extra_finish_reasons))
        except ValidationError:
            raise UpstreamError(f"provider {self.name} returned a malformed chat completion") from None

    async def chat_stream(self, request: ChatCompletionRequest) -> AsyncIterator[ChatCompletionChunk]:
        body = self.chat_body(request, stream=True)
        normalizer = StreamNormalizer(self.extra_finish_reasons)
        headers = await self.request_headers()

        def feed(payload: Any) -> list[ChatCompletionChunk]:
            if isinstance(payload, dict):
                error = self.stream_error(payload)
                if error is not None:
                    raise error
            return normalizer.feed(payload)

        finished = None if self.stream_ends_with_done else (lambda: normalizer.all_finished)
        async for chunk in stream_chunks(
            self._client,
            self.name,
            self.chat_path(request.model),
            body,
            feed,
            headers=headers,
            classify=self._classify,
            finished=finished,
        ):
            yield chunk
        for chunk in normalizer.close():
            yield chunk

    async def embed(self, request: EmbeddingsRequest) -> EmbeddingsResponse:
        if not self.offers_embeddings:
            raise InvalidRequest(f"provider {self.name} ({self.kind}) offers no embeddings")
        data = await post_json(
            self._client,
            self.name,
            self.embeddings_path(request.model),
            self.embeddings_body(request),
            headers=await self.request_headers(),
            classify=self._classify,
        )
        try:
            return self.parse_embeddings(data, request)
        except (ValidationError, ValueError, TypeError, KeyError):
            raise UpstreamError(f"provider {self.name} returned malformed embeddings") from None

    async def aclose(self) -> None:
        await self._client.aclose()


def capabilities_from_table(
    model: str,
    table: tuple[tuple[str, Capabilities], ...],
    default: Capabilities,
    context_window: int | None = None,
) -> Capabilities:
    """The entry with the longest matching model-name prefix; ``context_window`` overrides."""
    best, best_len = default, -1
    for prefix, caps in table:
        if model.startswith(prefix) and len(prefix) > best_len:
            best, best_len = caps, len(prefix)
    if context_window is not None:
        best = dataclasses.replace(best, context_window=context_window)
    return best
