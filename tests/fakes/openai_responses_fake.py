"""``POST /v1/responses`` for the fake OpenAI upstream (``tests.fakes.openai_upstream``).

The Responses request is read into the chat shape the fake already answers (instructions,
message / function_call / function_call_output items, function tools, ``text.format``,
``max_output_tokens``), so the answer is the same deterministic one: ``"Echo: " + the last
user text``, or a call of the first tool while no tool result is in. Non-streamed it is a
``response`` object; with ``stream: true`` the documented typed events
(``event: <type>`` + ``data:``), ending with ``response.completed`` and no ``[DONE]``.
``malformed_json`` truncates the body; ``stream_error_after=N`` ends the stream after N events
with ``response.failed``. Usage is ``input_tokens`` / ``output_tokens``; the last one served is kept on
``fake.responses_usage`` so tests can compare the mesh's ledger with what the upstream billed.
"""

from __future__ import annotations

import json
import time
from typing import Any

from tests.fakes import openai_upstream as base


def _parts(content: Any) -> Any:
    if isinstance(content, str):
        return content
    return [{"type": "text", "text": p.get("text", "")} for p in content or () if isinstance(p, dict)]


def chat_shape(payload: dict[str, Any]) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    if payload.get("instructions"):
        messages.append({"role": "system", "content": payload["instructions"]})
    items = payload.get("input")
    if isinstance(items, str):
        items = [{"type": "message", "role": "user", "content": items}]
    if not isinstance(items, list) or not items:
        raise base._HttpError(400, "'input' must be a string or a non-empty array", param="input")
    for item in items:
        kind = item.get("type", "message")
        if kind == "message":
            messages.append({"role": item.get("role"), "content": _parts(item.get("content"))})
        elif kind == "function_call":
            call = {"id": item.get("call_id"), "type": "function",
                    "function": {"name": item.get("name"), "arguments": item.get("arguments")}}
            messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            messages.append({"role": "tool", "tool_call_id": item.get("call_id"), "content": item.get("output")})
        else:
            raise base._HttpError(400, f"Invalid input item type {kind!r}", param="input")
    chat: dict[str, Any] = {"messages": messages}
    tools = [t for t in payload.get("tools") or () if t.get("type") == "function"]
    if tools:
        chat["tools"] = [{"type": "function", "function": {k: v for k, v in t.items() if k != "type"}} for t in tools]
    choice = payload.get("tool_choice")
    chat["tool_choice"] = ({"type": "function", "function": {"name": choice.get("name")}}
                           if isinstance(choice, dict) else choice or "auto")
    fmt = (payload.get("text") or {}).get("format") or {}
    if fmt.get("type") == "json_schema":
        chat["response_format"] = {"type": "json_schema", "json_schema": fmt}
    elif fmt.get("type") == "json_object":
        chat["response_format"] = {"type": "json_object"}
    if payload.get("max_output_tokens"):
        chat["max_completion_tokens"] = payload["max_output_tokens"]
    return chat


def _event(kind: str, number: int, **fields: Any) -> bytes:
    data = json.dumps({"type": kind, "sequence_number": number, **fields}, separators=(",", ":"))
    return f"event: {kind}\ndata: {data}\n\n".encode()


def responses_plan(fake: Any, payload: dict[str, Any], model: str, b: Any, request_id: str) -> Any:
    chat = chat_shape(payload)
    number = next(fake._ids)
    tool = base._pick_tool(chat)
    item_id = f"item_{number:012x}"
    if tool is not None:
        call = base._tool_call(tool, chat, 0, number)
        item = {"type": "function_call", "id": item_id, "call_id": call["id"], "name": call["function"]["name"],
                "arguments": call["function"]["arguments"], "status": "completed"}
        completion, text = base._count_tokens(item["arguments"]) + 1, None
    else:
        text, _ = base._reply_text(chat, b)
        item = {"type": "message", "id": item_id, "role": "assistant", "status": "completed",
                "content": [{"type": "output_text", "text": text, "annotations": []}]}
        completion = len(base._split_words(text))
    prompt = base._prompt_tokens(chat)
    usage = {"input_tokens": prompt, "output_tokens": completion, "total_tokens": prompt + completion,
             "input_tokens_details": {"cached_tokens": min(b.cached_tokens, prompt)},
             "output_tokens_details": {"reasoning_tokens": 0}}
    fake.responses_usage = usage
    response = {"id": f"resp_fake{number:020d}", "object": "response", "created_at": int(time.time()),
                "status": "completed", "model": model, "output": [item], "usage": usage, "error": None,
                "incomplete_details": None, "store": payload.get("store", True)}
    if not payload.get("stream"):
        plan = fake._json_plan(200, response, request_id)
        if b.malformed_json:
            plan.body = plan.body[: len(plan.body) // 2]
        return plan
    events = _stream_events(response, item, text)
    if b.stream_error_after is not None:  # the documented mid-stream failure: a response.failed event
        del events[max(0, b.stream_error_after):]
        error = {"code": "server_error", "message": b.error_message or "The server had an error."}
        events.append(_event("response.failed", len(events), response={**response, "status": "failed", "error": error}))
    return base._Plan(headers=[("content-type", "text/event-stream; charset=utf-8"), ("x-request-id", request_id)],
                      events=events, delay=b.chunk_delay_ms / 1000)


def _stream_events(response: dict[str, Any], item: dict[str, Any], text: str | None) -> list[bytes]:
    started = {**response, "status": "in_progress", "output": [], "usage": None}
    seq = iter(range(1_000_000))
    events = [_event("response.created", next(seq), response=started),
              _event("response.in_progress", next(seq), response=started)]
    ids = {"item_id": item["id"], "output_index": 0}
    if text is None:
        events.append(_event("response.output_item.added", next(seq), output_index=0,
                             item={**item, "arguments": "", "status": "in_progress"}))
        args = item["arguments"]
        for k in range(0, len(args), 16):
            events.append(_event("response.function_call_arguments.delta", next(seq), delta=args[k:k + 16], **ids))
        events.append(_event("response.function_call_arguments.done", next(seq), arguments=args, **ids))
    else:
        events.append(_event("response.output_item.added", next(seq), output_index=0,
                             item={**item, "content": [], "status": "in_progress"}))
        part = {"type": "output_text", "text": "", "annotations": []}
        events.append(_event("response.content_part.added", next(seq), content_index=0, part=part, **ids))
        for piece in base._split_words(text):
            events.append(_event("response.output_text.delta", next(seq), content_index=0, delta=piece,
                                 logprobs=[], **ids))
        events.append(_event("response.output_text.done", next(seq), content_index=0, text=text, logprobs=[], **ids))
        events.append(_event("response.content_part.done", next(seq), content_index=0,
                             part={**part, "text": text}, **ids))
    events.append(_event("response.output_item.done", next(seq), output_index=0, item=item))
    events.append(_event("response.completed", next(seq), response=response))
    return events
