"""OpenAI's Responses API onto the canonical chat request, and the answer back.

Shapes follow the openai SDK's own types (``openai.types.responses``): a request's
``input`` is a string or a list of items (messages with ``input_text`` /
``input_image`` parts, ``function_call`` and ``function_call_output`` items);
``instructions`` becomes the system message; function tools, ``tool_choice``,
``parallel_tool_calls``, ``text.format`` (json_schema, json_object),
``max_output_tokens``, ``temperature``, ``top_p``, ``metadata``, ``user``,
``prompt_cache_key`` and ``safety_identifier`` map onto their chat twins. Built-in tools (web search, file search, computer use) have no
chat equivalent on other providers and are refused with a clear 400. Conversation
state (``store``, ``previous_response_id``) lives in ``state.py``: the caller passes the
items a previous response carries in as ``history``.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from llm_mesh.errors import InvalidRequest
from llm_mesh.wire.openai_chat import ChatCompletion

_PASSED_THROUGH = ("temperature", "top_p", "parallel_tool_calls", "user", "stream", "prompt_cache_key", "safety_identifier")


def new_response_id() -> str:
    return f"resp_{uuid.uuid4().hex}"


def _bad(message: str, param: str) -> InvalidRequest:
    return InvalidRequest(message, param=param)


# ----------------------------------------------------------------------------- request


def _content_parts(content: Any, param: str) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise _bad("content must be a string or a list of content parts", param)
    parts: list[dict[str, Any]] = []
    for index, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text", "text"):
            parts.append({"type": "text", "text": str(part.get("text", ""))})
        elif kind == "input_image":
            url = part.get("image_url")
            if not isinstance(url, str) or not url:
                raise _bad("input_image needs an image_url (file_id images are not supported)", f"{param}[{index}]")
            parts.append({"type": "image_url", "image_url": {"url": url, "detail": part.get("detail") or "auto"}})
        elif kind == "refusal":
            parts.append({"type": "text", "text": str(part.get("refusal", ""))})
        else:
            raise _bad(f"content part type {kind!r} is not supported", f"{param}[{index}].type")
    return parts


def _flat_text(parts: str | list[dict[str, Any]]) -> str:
    if isinstance(parts, str):
        return parts
    return "".join(p.get("text", "") for p in parts if p.get("type") == "text")


def _message(item: dict[str, Any], param: str) -> dict[str, Any]:
    role = item.get("role")
    if role not in ("user", "assistant", "system", "developer"):
        raise _bad("a message item needs role user, assistant, system or developer", f"{param}.role")
    content = _content_parts(item.get("content", ""), f"{param}.content")
    if role in ("assistant", "system", "developer"):
        content = _flat_text(content)  # chat takes text only in these roles
    return {"role": role, "content": content}


def _messages(input_value: Any, instructions: Any) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if instructions is not None:
        if not isinstance(instructions, str):
            raise _bad("instructions must be a string", "instructions")
        messages.append({"role": "system", "content": instructions})
    if isinstance(input_value, str):
        return messages + [{"role": "user", "content": input_value}]
    if not isinstance(input_value, list) or not input_value:
        raise _bad("input must be a string or a non-empty list of items", "input")
    for index, item in enumerate(input_value):
        param = f"input[{index}]"
        if not isinstance(item, dict):
            raise _bad("each input item must be an object", param)
        kind = item.get("type", "message")
        if kind == "message":
            messages.append(_message(item, param))
        elif kind == "function_call":
            call = {"id": item.get("call_id") or item.get("id") or "", "type": "function",
                    "function": {"name": item.get("name", ""), "arguments": item.get("arguments") or "{}"}}
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant" and last.get("tool_calls") is not None:
                last["tool_calls"].append(call)  # parallel calls: one assistant turn
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            output = item.get("output")
            text = output if isinstance(output, str) else _flat_text(_content_parts(output, f"{param}.output"))
            messages.append({"role": "tool", "tool_call_id": item.get("call_id", ""), "content": text})
        elif kind == "reasoning":
            continue  # reasoning summaries from an earlier turn: nothing a chat model takes as input
        else:
            raise _bad(f"input item type {kind!r} is not supported", f"{param}.type")
    return messages


def _tools(tools: Any) -> list[dict[str, Any]] | None:
    if tools is None:
        return None
    if not isinstance(tools, list):
        raise _bad("tools must be a list", "tools")
    out = []
    for index, tool in enumerate(tools):
        if not isinstance(tool, dict) or tool.get("type") != "function":
            kind = tool.get("type") if isinstance(tool, dict) else None
            raise _bad(f"tool type {kind!r} is not supported through the mesh; use function tools", f"tools[{index}].type")
        function = {"name": tool.get("name"), "parameters": tool.get("parameters") or {"type": "object", "properties": {}}}
        for key in ("description", "strict"):
            if tool.get(key) is not None:
                function[key] = tool[key]
        out.append({"type": "function", "function": function})
    return out or None


def _tool_choice(choice: Any) -> Any:
    if choice is None or isinstance(choice, str):
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function" and choice.get("name"):
        return {"type": "function", "function": {"name": choice["name"]}}
    raise _bad("tool_choice must be none, auto, required or {type: function, name}", "tool_choice")


def _response_format(text: Any) -> dict[str, Any] | None:
    if text is None:
        return None
    fmt = text.get("format") if isinstance(text, dict) else None
    if fmt is None:
        return None
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        schema = {"name": fmt.get("name") or "response", "schema": fmt.get("schema") or {}}
        for key in ("description", "strict"):
            if fmt.get(key) is not None:
                schema[key] = fmt[key]
        return {"type": "json_schema", "json_schema": schema}
    raise _bad("text.format.type must be text, json_object or json_schema", "text.format.type")


def to_chat_request(body: Any, history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A Responses request body -> the canonical chat request body (validated by the caller).
    ``history``: the input and output items of the previous response, sent before ``input``."""
    if not isinstance(body, dict):
        raise _bad("the request body must be a JSON object", "body")
    if "model" not in body:
        raise _bad("model is required", "model")
    messages = _messages(body.get("input"), body.get("instructions"))
    if history:
        head = 1 if body.get("instructions") is not None else 0
        messages[head:head] = _messages(history, None)
    chat: dict[str, Any] = {"model": body["model"], "messages": messages}
    for key in _PASSED_THROUGH:
        if body.get(key) is not None:
            chat[key] = body[key]
    if body.get("max_output_tokens") is not None:
        chat["max_completion_tokens"] = body["max_output_tokens"]
    if body.get("metadata") is not None:
        chat["metadata"] = body["metadata"]
    tools = _tools(body.get("tools"))
    if tools:
        chat["tools"] = tools
        if body.get("tool_choice") is not None:
            chat["tool_choice"] = _tool_choice(body["tool_choice"])
    response_format = _response_format(body.get("text"))
    if response_format is not None:
        chat["response_format"] = response_format
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and reasoning.get("effort"):
        chat["reasoning_effort"] = reasoning["effort"]  # passed on to targets that take it
    if chat.get("stream"):
        chat["stream_options"] = {"include_usage": True}
    return chat


# ----------------------------------------------------------------------------- response


def usage_object(usage: Any) -> dict[str, Any] | None:
    if usage is None:
        return None
    details = getattr(usage, "prompt_tokens_details", None)
    cached = (getattr(details, "cached_tokens", None) or 0) if details is not None else 0
    completion_details = getattr(usage, "completion_tokens_details", None)
    reasoning = (getattr(completion_details, "reasoning_tokens", None) or 0) if completion_details is not None else 0
    return {
        "input_tokens": usage.prompt_tokens, "output_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens or usage.prompt_tokens + usage.completion_tokens,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
        "output_tokens_details": {"reasoning_tokens": reasoning},
    }


def response_object(response_id: str, body: dict[str, Any], chat: dict[str, Any], *, status: str,
                    output: list[dict[str, Any]], usage: dict[str, Any] | None = None,
                    created_at: float | None = None, error: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``Response`` object, echoing the request's settings as OpenAI does (``created_at`` in whole
    seconds, as OpenAI sends it: litellm's ``ResponsesAPIResponse`` types it ``int``)."""
    return {
        "id": response_id, "object": "response", "created_at": int(created_at or time.time()), "status": status,
        "model": body.get("model"), "output": output, "error": error, "incomplete_details": None,
        "instructions": body.get("instructions"), "metadata": body.get("metadata") or {},
        "parallel_tool_calls": bool(body.get("parallel_tool_calls", True)),
        "temperature": body.get("temperature"), "top_p": body.get("top_p"),
        "max_output_tokens": body.get("max_output_tokens"), "tool_choice": body.get("tool_choice") or "auto",
        "tools": body.get("tools") or [], "text": body.get("text") or {"format": {"type": "text"}},
        "usage": usage, "user": body.get("user"), "previous_response_id": body.get("previous_response_id"),
    }


def message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    return {"type": "message", "id": item_id, "role": "assistant", "status": status,
            "content": [{"type": "output_text", "text": text, "annotations": []}] if status == "completed" else []}


def function_call_item(item_id: str, call_id: str, name: str, arguments: str, status: str = "completed") -> dict[str, Any]:
    return {"type": "function_call", "id": item_id, "call_id": call_id, "name": name, "arguments": arguments,
            "status": status}


def output_items(completion: ChatCompletion) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if not completion.choices:
        return items
    message = completion.choices[0].message
    text = message.content if isinstance(message.content, str) else None
    if text or not message.tool_calls:
        items.append(message_item(f"msg_{uuid.uuid4().hex}", text or message.refusal or ""))
    for call in message.tool_calls or ():
        items.append(function_call_item(f"fc_{uuid.uuid4().hex}", call.id, call.function.name, call.function.arguments))
    return items


def to_response(response_id: str, body: dict[str, Any], chat: dict[str, Any], completion: ChatCompletion) -> dict[str, Any]:
    return response_object(response_id, body, chat, status="completed", output=output_items(completion),
                           usage=usage_object(completion.usage), created_at=float(completion.created or time.time()))
