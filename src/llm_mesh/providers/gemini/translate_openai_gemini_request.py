"""OpenAI chat completion request -> Gemini generateContent body. Pure functions, no I/O.

System/developer messages become ``systemInstruction``; user/assistant turns
become ``user``/``model`` contents; images become ``inlineData`` (data: URLs) or
``fileData`` (gs:// and http URLs, MIME type guessed from the path); assistant
tool calls become ``functionCall`` parts and tool results ``functionResponse``
parts named after the call they answer. Tools become ``functionDeclarations``
with their JSON schema reduced to the OpenAPI subset Gemini accepts (see
``schema.gemini_schema``).
"""

from __future__ import annotations

import json
import mimetypes
from dataclasses import replace
from typing import Any
from urllib.parse import unquote, urlparse

from llm_mesh.errors import InvalidRequest
from llm_mesh.providers.common.images import parse_data_url
from llm_mesh.providers.common.messages import append_turn, stop_list
from llm_mesh.providers.common.tool_calls import parse_tool_arguments
from llm_mesh.providers.gemini import types as g
from llm_mesh.providers.gemini.call_ids import SYNTHETIC_ID, decode_call_id
from llm_mesh.providers.gemini.schema import gemini_schema
from llm_mesh.wire.openai_chat import (
    AssistantMessage,
    ChatCompletionRequest,
    SystemMessage,
    ToolMessage,
    UserMessage,
    message_text,
)


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
                if not SYNTHETIC_ID.match(call_id):
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
            if not SYNTHETIC_ID.match(call_id):
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
