"""OpenAI -> AI21 Jamba: only what differs from the openai translator.

- content parts are flattened to text (Jamba takes string content; no images);
- no ``tool_choice``: "auto" is dropped, "none" drops the tools, a forced choice
  ("required" or a named function) cannot be honoured and is rejected;
- ``response_format`` supports text and json_object only;
- fields outside Jamba's request schema (seed, penalties, logprobs, user,
  stream_options, parallel_tool_calls) are dropped; ``developer`` is ``system``.
"""

from __future__ import annotations

from typing import Any

from llm_mesh.errors import InvalidRequest
from llm_mesh.providers.ai21.types import CHAT_FIELDS
from llm_mesh.providers.common.messages import pick, system_roles
from llm_mesh.providers.openai import translate_openai_openai as openai_wire
from llm_mesh.wire.openai_chat import ChatCompletionRequest, message_text


def chat_request_body(request: ChatCompletionRequest, *, stream: bool) -> dict[str, Any]:
    body = openai_wire.chat_request_body(request, stream=stream)
    if request.output_token_limit is not None:
        body["max_tokens"] = request.output_token_limit
    choice = body.pop("tool_choice", None)
    if choice == "none":
        body.pop("tools", None)
    elif choice not in (None, "auto"):
        raise InvalidRequest("AI21 Jamba cannot force a tool call (tool_choice)", param="tool_choice")
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        raise InvalidRequest("AI21 Jamba supports response_format json_object, not json_schema", param="response_format")
    body["messages"] = [_message(m) for m in system_roles(body["messages"])]
    return pick(body, CHAT_FIELDS)


def _message(message: dict[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    if isinstance(content, list):
        if any(isinstance(p, dict) and p.get("type") not in ("text", None) for p in content):
            raise InvalidRequest("AI21 Jamba accepts text content only", param="messages")
        message = {**message, "content": message_text(content)}
    return {k: v for k, v in message.items() if k != "name"}
