"""The canonical (screened) chat request -> an upstream's native ``/v1/responses``, and back.

Used for ``openai`` targets with ``options.responses: native`` when the request came in on
the mesh's own ``/v1/responses``. The body is built from the request *as it leaves the
pipeline* (prompts rendered, retrieved context added, the policy's placeholders in every
text, tool description and schema), so the native path carries exactly what the translated
path would have carried: no client string reaches the upstream unscreened. Settings with no
chat twin that hold no text (``reasoning.summary``, ``truncation``, ``include``,
``service_tier``, ``text.verbosity``, ``max_tool_calls``, ``top_logprobs``) come from the
inbound body (``settings``). ``store`` is always false upstream: the mesh keeps conversation
state itself (``previous_response_id`` was already expanded into the messages).

The answer (a ``Response`` or its typed SSE events) is read back into the canonical
completion / chunks, so the transform-output stage (restore, output guardrails), the
settle stage (usage: ``input_tokens`` / ``output_tokens`` as the upstream counted them)
and the cache work as on any other path. Shapes follow ``openai.types.responses``.
"""

from __future__ import annotations

import time
from typing import Any

from llm_mesh.errors import UpstreamError
from llm_mesh.wire.openai_chat import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest
from llm_mesh.wire.responses_input import input_parts as _input_parts

# Responses-only settings that carry no free text: passed on from the inbound body as given.
SETTINGS = ("truncation", "include", "service_tier", "max_tool_calls", "top_logprobs")


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content or () if isinstance(part, dict))


def input_items(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chat messages -> Responses input items (no ids: nothing upstream is stored)."""
    items: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role == "tool":
            items.append({"type": "function_call_output", "call_id": message.get("tool_call_id", ""),
                          "output": _text(message.get("content"))})
        elif role == "assistant":
            text = _text(message.get("content"))
            if text:
                items.append({"type": "message", "role": "assistant", "content": text})
            for call in message.get("tool_calls") or ():
                function = call.get("function") or {}
                items.append({"type": "function_call", "call_id": call.get("id", ""), "name": function.get("name", ""),
                              "arguments": function.get("arguments") or "{}"})
        else:
            items.append({"type": "message", "role": role, "content": _input_parts(message.get("content"))})
    return items


def _tool_choice(choice: Any) -> Any:
    if isinstance(choice, dict) and (choice.get("function") or {}).get("name"):
        return {"type": "function", "name": choice["function"]["name"]}
    return choice


def _text_format(response_format: dict[str, Any] | None) -> dict[str, Any] | None:
    kind = (response_format or {}).get("type")
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        return {"type": "json_schema", **(response_format.get("json_schema") or {})}  # type: ignore[union-attr]
    return None


def responses_body(request: ChatCompletionRequest, settings: dict[str, Any], *, stream: bool) -> dict[str, Any]:
    """The upstream ``/v1/responses`` body from the screened canonical request."""
    chat = request.model_dump(exclude_none=True, by_alias=True, mode="json")
    messages = list(chat.get("messages") or ())
    body: dict[str, Any] = {"model": chat["model"], "store": False}
    if settings.get("instructions") and messages and messages[0].get("role") == "system":
        body["instructions"] = _text(messages.pop(0).get("content"))
    body["input"] = input_items(messages)
    for key in ("temperature", "top_p", "parallel_tool_calls", "user"):
        if key in chat:
            body[key] = chat[key]
    limit = chat.get("max_completion_tokens", chat.get("max_tokens"))
    if limit is not None:
        body["max_output_tokens"] = limit
    if chat.get("tools"):
        body["tools"] = [{"type": "function", **(tool.get("function") or {})} for tool in chat["tools"]]
        if chat.get("tool_choice") is not None:
            body["tool_choice"] = _tool_choice(chat["tool_choice"])
    text = dict(settings.get("text") or {})
    fmt = _text_format(chat.get("response_format"))
    if fmt is not None:
        text["format"] = fmt
    if text:
        body["text"] = text
    reasoning = dict(settings.get("reasoning") or {})
    if chat.get("reasoning_effort"):
        reasoning["effort"] = chat["reasoning_effort"]
    if reasoning:
        body["reasoning"] = reasoning
    for key in SETTINGS:
        if settings.get(key) is not None:
            body[key] = settings[key]
    if stream:
        body["stream"] = True
    return body


# ----------------------------------------------------------------------------- the answer


def usage_of(usage: Any) -> dict[str, Any] | None:
    """A Responses ``usage`` as the canonical chat usage (the upstream's own counts)."""
    if not isinstance(usage, dict):
        return None
    prompt, completion = int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)
    cached = int((usage.get("input_tokens_details") or {}).get("cached_tokens") or 0)
    reasoning = int((usage.get("output_tokens_details") or {}).get("reasoning_tokens") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": int(usage.get("total_tokens") or prompt + completion),
            "prompt_tokens_details": {"cached_tokens": cached},
            "completion_tokens_details": {"reasoning_tokens": reasoning}}


def finish_reason(response: dict[str, Any], has_calls: bool) -> str:
    if has_calls:
        return "tool_calls"
    if response.get("status") == "incomplete":
        reason = (response.get("incomplete_details") or {}).get("reason")
        return "content_filter" if reason == "content_filter" else "length"
    return "stop"


def chat_response(response: Any, model: str) -> ChatCompletion:
    """A non-streamed ``Response`` -> the canonical completion."""
    if not isinstance(response, dict) or not isinstance(response.get("output"), list):
        raise ValueError("not a Response object")
    if response.get("status") == "failed":
        raise UpstreamError("the upstream reported the response failed")
    texts: list[str] = []
    refusals: list[str] = []
    calls: list[dict[str, Any]] = []
    for item in response["output"]:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "message":
            for part in item.get("content") or ():
                if part.get("type") == "output_text":
                    texts.append(part.get("text") or "")
                elif part.get("type") == "refusal":
                    refusals.append(part.get("refusal") or "")
        elif item.get("type") == "function_call":
            calls.append({"id": item.get("call_id") or item.get("id") or "", "type": "function",
                          "function": {"name": item.get("name", ""), "arguments": item.get("arguments") or ""}})
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if refusals:
        message["refusal"] = "".join(refusals)
    if calls:
        message["tool_calls"] = calls
    return ChatCompletion.model_validate({
        "id": response.get("id") or "resp", "object": "chat.completion",
        "created": int(response.get("created_at") or time.time()), "model": response.get("model") or model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(response, bool(calls))}],
        "usage": usage_of(response.get("usage")),
    })
