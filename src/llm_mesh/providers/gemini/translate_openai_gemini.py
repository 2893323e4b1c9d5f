"""OpenAI chat completions <-> Gemini generateContent. Pure functions, no I/O.

Request: system/developer messages become ``systemInstruction``; user/assistant
turns become ``user``/``model`` contents; images become ``inlineData`` (data:
URLs) or ``fileData`` (gs:// and http URLs, MIME type guessed from the path);
assistant tool calls become ``functionCall`` parts and tool results
``functionResponse`` parts named after the call they answer. Tools become
``functionDeclarations`` with their JSON schema reduced to the OpenAPI subset
Gemini accepts (see ``gemini_schema``).

Tool-call ids: Gemini may return a ``functionCall.id``; when it does not, ids
``call_<tag>_<n>`` are synthesised, stable for the whole response (stream or
not). A ``thoughtSignature`` on a function-call part (thinking models; Gemini 3
rejects a follow-up turn without it) travels inside the OpenAI tool-call id after
``__ts__`` so the client's echo of the id brings it back unchanged.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import re
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote, urlparse

from llm_mesh.providers.common.malformed import reads_upstream
from llm_mesh.errors import ContentPolicyViolation, InvalidRequest, UpstreamError
from llm_mesh.providers.common.images import parse_data_url
from llm_mesh.providers.common.embeddings import embedding_texts, embeddings_response
from llm_mesh.providers.common.messages import append_turn, stop_list
from llm_mesh.providers.common.tool_calls import parse_tool_arguments
from llm_mesh.providers.common.usage import make_usage
from llm_mesh.providers.gemini import types as g
from llm_mesh.wire.openai_chat import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    Delta,
    FunctionCall,
    ResponseMessage,
    SystemMessage,
    ToolCall,
    ToolCallDelta,
    ToolCallDeltaFunction,
    ToolMessage,
    Usage,
    UserMessage,
    message_text,
)
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest, EmbeddingsResponse

SIGNATURE_SEPARATOR = "__ts__"
_SYNTHETIC_ID = re.compile(r"^call_[0-9a-f]{12}_\d+$")

# ---------------------------------------------------------------- finish reasons
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


# ---------------------------------------------------------------- JSON schema -> Gemini Schema
_SCHEMA_KEYS = {
    "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems", "properties",
    "required", "minProperties", "maxProperties", "minLength", "maxLength", "pattern", "example", "anyOf",
    "propertyOrdering", "default", "items", "minimum", "maximum",
}
_FORMATS = {
    "STRING": {"enum", "date-time"},
    "NUMBER": {"float", "double"},
    "INTEGER": {"int32", "int64"},
}
_TYPES = {"string", "number", "integer", "boolean", "array", "object"}
_MAX_DEPTH = 32


def gemini_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Reduce a JSON schema to the OpenAPI 3.0 subset Gemini's ``Schema`` accepts.

    Local ``$ref``s are inlined (recursion is rejected: Gemini schemas are trees),
    ``type: [X, "null"]`` becomes ``nullable``, ``oneOf`` becomes ``anyOf``,
    ``const`` becomes a one-value ``enum``, unsupported keywords
    (``additionalProperties``, ``$schema``, ``$defs``, ``not``, ``if``...) are
    dropped, and types are written in Gemini's upper-case enum form.
    """
    definitions = {**(schema.get("definitions") or {}), **(schema.get("$defs") or {})}
    return _convert(schema, definitions, 0, ())


def _resolve(ref: str, definitions: dict[str, Any], seen: tuple[str, ...]) -> dict[str, Any]:
    match = re.match(r"^#/(\$defs|definitions)/(.+)$", ref)
    if not match or match.group(2) not in definitions:
        raise InvalidRequest(f"schema reference {ref!r} cannot be resolved (only local $defs are supported)")
    if ref in seen:
        raise InvalidRequest(f"recursive schema reference {ref!r} is not supported by Gemini")
    return definitions[match.group(2)]


def _convert(node: Any, definitions: dict[str, Any], depth: int, seen: tuple[str, ...]) -> dict[str, Any]:
    if depth > _MAX_DEPTH:
        raise InvalidRequest("schema is nested too deeply")
    if not isinstance(node, dict):
        return {}
    if "$ref" in node:
        ref = node["$ref"]
        target = _resolve(ref, definitions, seen)
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _convert(merged, definitions, depth + 1, seen + (ref,))
    node = dict(node)
    if isinstance(node.get("allOf"), list) and len(node["allOf"]) == 1:
        sub = node.pop("allOf")[0]
        if isinstance(sub, dict) and "$ref" in sub:
            sub = _resolve(sub["$ref"], definitions, seen)
        node = {**sub, **node}
    out: dict[str, Any] = {}
    raw_type = node.get("type")
    nullable = bool(node.get("nullable"))
    types: list[str] = []
    if isinstance(raw_type, list):
        types = [t for t in raw_type if t != "null"]
        nullable = nullable or "null" in raw_type
    elif isinstance(raw_type, str) and raw_type != "null":
        types = [raw_type]
    elif raw_type == "null":
        nullable = True
    union = node.get("anyOf") or node.get("oneOf")
    if len(types) > 1:
        union = [{**{k: v for k, v in node.items() if k not in ("type", "anyOf", "oneOf")}, "type": t} for t in types]
        types = []
    if isinstance(union, list) and union:
        branches = []
        for branch in union:
            if isinstance(branch, dict) and branch.get("type") == "null":
                nullable = True
                continue
            branches.append(_convert(branch, definitions, depth + 1, seen))
        if len(branches) == 1:
            out.update(branches[0])
        elif branches:
            out["anyOf"] = branches
    if types:
        kind = types[0].lower()
        if kind in _TYPES:
            out["type"] = kind.upper()
    if "const" in node and "enum" not in node:
        node["enum"] = [node["const"]]
    for key, value in node.items():
        if key not in _SCHEMA_KEYS or key in ("type", "anyOf", "nullable"):
            continue
        if key == "properties":
            if isinstance(value, dict) and value:
                out["properties"] = {
                    name: _convert(sub, definitions, depth + 1, seen) for name, sub in value.items()
                }
        elif key == "items":
            if isinstance(value, dict):
                out["items"] = _convert(value, definitions, depth + 1, seen)
        elif key == "enum":
            if isinstance(value, list):
                values = [v for v in value if v is not None]
                nullable = nullable or len(values) < len(value)
                out["enum"] = [v if isinstance(v, str) else json.dumps(v) for v in values]
                if "type" not in out:
                    out["type"] = "STRING"
        elif key == "format":
            allowed = _FORMATS.get(out.get("type", ""), set())
            if value in allowed:
                out["format"] = value
        elif key == "required":
            if isinstance(value, list):
                names = set((node.get("properties") or {}).keys())
                required = [name for name in value if name in names]
                if required:
                    out["required"] = required
        elif key in ("minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties"):
            if isinstance(value, int):
                out[key] = str(value)  # int64 fields are strings in the REST form
        else:
            out[key] = value
    if out.get("enum") and out.get("type") == "STRING":
        out.setdefault("format", "enum")
    if nullable:
        out["nullable"] = True
    if "type" not in out and "anyOf" not in out:
        if "properties" in out:
            out["type"] = "OBJECT"
        elif "items" in out:
            out["type"] = "ARRAY"
    return out


# ---------------------------------------------------------------- tool-call ids
def encode_call_id(call_id: str, signature: str | None) -> str:
    return f"{call_id}{SIGNATURE_SEPARATOR}{signature}" if signature else call_id


def decode_call_id(value: str) -> tuple[str, str | None]:
    call_id, sep, signature = value.partition(SIGNATURE_SEPARATOR)
    return call_id, (signature or None) if sep else None


def synthetic_id(tag: str, n: int) -> str:
    return f"call_{tag}_{n}"


def id_tag(seed: str | None) -> str:
    return hashlib.sha256((seed or uuid.uuid4().hex).encode()).hexdigest()[:12]


# ---------------------------------------------------------------- request
def _data_url(url: str) -> tuple[str, str] | None:
    """(mime type, base64 payload) of a base64 data: URL."""
    parsed = parse_data_url(url)
    if parsed is None:
        return None
    parsed = replace(parsed, data=parsed.data.strip())
    parsed.decode("a data: URL does not hold valid base64")
    return (parsed.mime or "application/octet-stream"), parsed.data


def _guess_mime(url: str, default: str) -> str:
    path = unquote(urlparse(url).path)
    guessed, _ = mimetypes.guess_type(path)
    return guessed or default


def _media_part(url: str, default_mime: str) -> g.Part:
    data = _data_url(url) if url.startswith("data:") else None
    if data is not None:
        return {"inlineData": {"mimeType": data[0], "data": data[1]}}
    if url.startswith("data:"):
        raise InvalidRequest("only base64 data: URLs are supported")
    scheme = urlparse(url).scheme
    if scheme not in ("gs", "http", "https"):
        raise InvalidRequest(f"unsupported media URL scheme {scheme!r}")
    return {"fileData": {"mimeType": _guess_mime(url, default_mime), "fileUri": url}}


def _user_parts(message: UserMessage) -> list[g.Part]:
    if isinstance(message.content, str):
        return [{"text": message.content}]
    parts: list[g.Part] = []
    for part in message.content:
        if part.type == "text":
            parts.append({"text": part.text})  # type: ignore[union-attr]
        elif part.type == "image_url":
            parts.append(_media_part(part.image_url.url, "image/jpeg"))  # type: ignore[union-attr]
        elif part.type == "input_audio":
            audio = getattr(part, "input_audio", None) or {}
            fmt = audio.get("format", "wav") if isinstance(audio, dict) else "wav"
            data = audio.get("data") if isinstance(audio, dict) else None
            if not data:
                raise InvalidRequest("input_audio needs base64 data")
            parts.append({"inlineData": {"mimeType": f"audio/{'mpeg' if fmt == 'mp3' else fmt}", "data": data}})
        elif part.type == "file":
            file = getattr(part, "file", None) or {}
            file_data = file.get("file_data") if isinstance(file, dict) else None
            if not file_data:
                raise InvalidRequest("file parts need inline file_data for Gemini (file_id is not supported)")
            default = _guess_mime(str(file.get("filename") or ""), "application/pdf")
            if file_data.startswith("data:"):
                parts.append(_media_part(file_data, default))
            else:
                parts.append({"inlineData": {"mimeType": default, "data": file_data}})
        else:
            raise InvalidRequest(f"content part type {part.type!r} is not supported by Gemini")
    return parts


def _tool_response(content: Any) -> dict[str, Any]:
    text = message_text(content)
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    # The response must be a JSON object; Google documents "output" (and "error") as the keys to use.
    return value if isinstance(value, dict) else {"output": value}


def _append(contents: list[g.Content], role: str, parts: list[g.Part]) -> None:
    append_turn(contents, role, parts, key="parts")


def _contents(request: ChatCompletionRequest) -> tuple[list[g.Content], list[str]]:
    system: list[str] = []
    contents: list[g.Content] = []
    call_names: dict[str, str] = {}
    for message in request.messages:
        if isinstance(message, SystemMessage):
            text = message_text(message.content)
            if text:
                system.append(text)
        elif isinstance(message, UserMessage):
            _append(contents, "user", _user_parts(message))
        elif isinstance(message, AssistantMessage):
            parts: list[g.Part] = []
            text = message_text(message.content) if message.content is not None else ""
            if text:
                parts.append({"text": text})
            for call in message.tool_calls or []:
                call_id, signature = decode_call_id(call.id)
                call_names[call.id] = call.function.name
                args = parse_tool_arguments(
                    call.function.arguments,
                    not_json=f"tool call {call_id!r} has arguments that are not JSON",
                    not_object=f"tool call {call_id!r} arguments must be a JSON object",
                )
                function_call: g.FunctionCall = {"name": call.function.name, "args": args}
                if not _SYNTHETIC_ID.match(call_id):
                    function_call["id"] = call_id
                part: g.Part = {"functionCall": function_call}
                if signature:
                    part["thoughtSignature"] = signature
                parts.append(part)
            if not parts:
                parts.append({"text": ""})
            _append(contents, "model", parts)
        elif isinstance(message, ToolMessage):
            name = call_names.get(message.tool_call_id)
            if name is None:
                raise InvalidRequest(
                    f"tool message answers tool_call_id {message.tool_call_id!r}, "
                    "which no earlier assistant message called"
                )
            call_id, _ = decode_call_id(message.tool_call_id)
            function_response: g.FunctionResponse = {"name": name, "response": _tool_response(message.content)}
            if not _SYNTHETIC_ID.match(call_id):
                function_response["id"] = call_id
            _append(contents, "user", [{"functionResponse": function_response}])
    if not contents:
        raise InvalidRequest("Gemini needs at least one user or assistant message besides the system prompt")
    return contents, system


def _tools(request: ChatCompletionRequest) -> list[g.Tool]:
    declarations: list[g.FunctionDeclaration] = []
    for tool in request.tools or []:
        fn = tool.function
        declaration: g.FunctionDeclaration = {"name": fn.name}
        if fn.description:
            declaration["description"] = fn.description
        if fn.parameters:
            schema = gemini_schema(fn.parameters)
            if schema.get("properties") or schema.get("type") not in ("OBJECT", None):
                declaration["parameters"] = schema
        declarations.append(declaration)
    return [{"functionDeclarations": declarations}] if declarations else []


def _tool_config(request: ChatCompletionRequest) -> g.ToolConfig | None:
    choice = request.tool_choice
    if choice is None or not request.tools:
        return None
    if choice == "auto":
        return {"functionCallingConfig": {"mode": "AUTO"}}
    if choice == "none":
        return {"functionCallingConfig": {"mode": "NONE"}}
    if choice == "required":
        return {"functionCallingConfig": {"mode": "ANY"}}
    return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [choice.function.name]}}  # type: ignore[union-attr]


def _generation_config(request: ChatCompletionRequest) -> g.GenerationConfig:
    config: g.GenerationConfig = {}
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.top_p is not None:
        config["topP"] = request.top_p
    if request.output_token_limit is not None:
        config["maxOutputTokens"] = request.output_token_limit
    if request.stop:
        config["stopSequences"] = stop_list(request.stop)
    if request.n is not None and request.n > 1:
        config["candidateCount"] = request.n
    if request.seed is not None:
        config["seed"] = request.seed
    if request.presence_penalty is not None:
        config["presencePenalty"] = request.presence_penalty
    if request.frequency_penalty is not None:
        config["frequencyPenalty"] = request.frequency_penalty
    if request.logprobs:
        config["responseLogprobs"] = True
        if request.top_logprobs:
            config["logprobs"] = request.top_logprobs
    fmt = request.response_format
    if fmt is not None and fmt.type in ("json_object", "json_schema"):
        config["responseMimeType"] = "application/json"
        if fmt.type == "json_schema" and fmt.json_schema is not None and fmt.json_schema.schema_:
            config["responseSchema"] = gemini_schema(fmt.json_schema.schema_)
    return config


def chat_request_body(
    request: ChatCompletionRequest, safety_settings: list[dict[str, str]] | None = None
) -> g.GenerateContentRequest:
    contents, system = _contents(request)
    body: g.GenerateContentRequest = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
    tools = _tools(request)
    if tools:
        body["tools"] = tools
        tool_config = _tool_config(request)
        if tool_config is not None:
            body["toolConfig"] = tool_config
    generation = _generation_config(request)
    if generation:
        body["generationConfig"] = generation
    if safety_settings:
        body["safetySettings"] = safety_settings
    return body


# ---------------------------------------------------------------- response
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


# ---------------------------------------------------------------- embeddings
def batch_embed_request(request: EmbeddingsRequest, model: str, task_type: str | None) -> g.BatchEmbedContentsRequest:
    texts = _embedding_texts(request)
    requests: list[g.EmbedContentRequest] = []
    for text in texts:
        item: g.EmbedContentRequest = {"model": f"models/{model}", "content": {"parts": [{"text": text}]}}
        if task_type:
            item["taskType"] = task_type
        if request.dimensions is not None:
            item["outputDimensionality"] = request.dimensions
        requests.append(item)
    return {"requests": requests}


@reads_upstream("gemini")
def batch_embed_response(data: Any, model: str, token_count: int) -> EmbeddingsResponse:
    embeddings = data.get("embeddings") if isinstance(data, dict) else None
    if not isinstance(embeddings, list):
        raise UpstreamError("provider returned malformed embeddings")
    return embeddings_response(model, [list(e.get("values") or []) for e in embeddings], token_count)


def vertex_predict_request(request: EmbeddingsRequest, task_type: str | None) -> g.VertexPredictRequest:
    instances: list[g.VertexEmbeddingInstance] = []
    for text in _embedding_texts(request):
        instance: g.VertexEmbeddingInstance = {"content": text}
        if task_type:
            instance["task_type"] = task_type
        instances.append(instance)
    body: g.VertexPredictRequest = {"instances": instances}
    if request.dimensions is not None:
        body["parameters"] = {"outputDimensionality": request.dimensions}
    return body


@reads_upstream("gemini")
def vertex_predict_response(data: Any, model: str) -> EmbeddingsResponse:
    predictions = data.get("predictions") if isinstance(data, dict) else None
    if not isinstance(predictions, list):
        raise UpstreamError("provider returned malformed embeddings")
    vectors: list[list[float]] = []
    tokens = 0
    for prediction in predictions:
        embedding = (prediction or {}).get("embeddings") or {}
        vectors.append(list(embedding.get("values") or []))
        tokens += int((embedding.get("statistics") or {}).get("token_count") or 0)
    return embeddings_response(model, vectors, tokens)


def _embedding_texts(request: EmbeddingsRequest) -> list[str]:
    return embedding_texts(request, "Gemini embeddings take text input (token-id arrays are not supported)")
