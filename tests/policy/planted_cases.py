"""One planted value in every request field the OpenAI Chat, Responses and Anthropic Messages
shapes allow: the cases ``test_planted_everywhere`` sends through the official SDKs.

Each case is (api, field, keyword arguments for the SDK call without ``model``). The value is
an SSN (python-stdnum valid), written where the field is free text as part of a sentence and,
where the field is an identifier (tool names, call ids), as the whole identifier.
Not covered, by design: base64 payloads (``input_audio.data``, ``file.file_data``, Anthropic
base64 sources): the mesh does not decode media, so a value there is not text it can screen.
"""

from __future__ import annotations

import json
from typing import Any

V = "536-22-8841"
S = f"the customer's ssn is {V}"  # a sentence around it


def _schema(where: str) -> dict[str, Any]:
    """A JSON schema with the value at ``where``: description, enum, default, const, examples,
    title, a nested property's description, or a property name."""
    inner: dict[str, Any] = {"type": "string"}
    if where in ("description", "enum", "default", "const", "examples", "title"):
        inner[where] = {"description": S, "enum": [V, "other"], "default": V, "const": V,
                        "examples": [V], "title": S}[where]
    nested = {"type": "object", "properties": {"note": {"type": "string", "description": S}}}
    properties: dict[str, Any] = {"id": inner}
    if where == "nested":
        properties["extra"] = nested
    if where == "property_name":
        properties[V] = {"type": "string"}
    return {"type": "object", "properties": properties}


SCHEMA_SPOTS = ("description", "enum", "default", "const", "examples", "title", "nested", "property_name")

USER = {"role": "user", "content": "hello"}


def _chat_tool(name: str = "lookup", description: str = "Look a customer up.", spot: str | None = None) -> dict:
    return {"type": "function", "function": {
        "name": name, "description": description,
        "parameters": _schema(spot) if spot else {"type": "object", "properties": {"id": {"type": "string"}}}}}


def _chat_history(call_id: str = "call_1", name: str = "lookup", arguments: str = '{"id": "1"}',
                  result: str = "not found", text: str | None = None) -> list[dict]:
    return [{"role": "user", "content": "look me up"},
            {"role": "assistant", "content": text, "tool_calls": [
                {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}]},
            {"role": "tool", "tool_call_id": call_id, "content": result},
            {"role": "user", "content": "thanks"}]


def _chat_cases() -> dict[str, dict[str, Any]]:
    m = {"messages": [USER]}
    cases: dict[str, dict[str, Any]] = {
        "user_content": {"messages": [{"role": "user", "content": S}]},
        "user_text_part": {"messages": [{"role": "user", "content": [{"type": "text", "text": S}]}]},
        "image_url": {"messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is this"},
            {"type": "image_url", "image_url": {"url": f"https://img.example/scan.png?ssn={V}"}}]}]},
        "file_name": {"messages": [{"role": "user", "content": [
            {"type": "text", "text": "read this"},
            {"type": "file", "file": {"filename": f"{V}.pdf", "file_data": "data:application/pdf;base64,JVBERi0x"}}]}]},
        "file_id": {"messages": [{"role": "user", "content": [
            {"type": "text", "text": "read this"}, {"type": "file", "file": {"file_id": V}}]}]},
        "system_content": {"messages": [{"role": "system", "content": S}, USER]},
        "system_parts": {"messages": [{"role": "system", "content": [{"type": "text", "text": S}]}, USER]},
        "developer_content": {"messages": [{"role": "developer", "content": S}, USER]},
        "message_name": {"messages": [{"role": "user", "content": "hello", "name": V}]},
        "assistant_content": {"messages": [USER, {"role": "assistant", "content": S}, USER]},
        "assistant_refusal": {"messages": [USER, {"role": "assistant", "content": "no", "refusal": S}, USER]},
        "tool_call_id": {"messages": _chat_history(call_id=V)},
        "tool_call_name": {"messages": _chat_history(name=V), "tools": [_chat_tool(name=V)]},
        "tool_call_arguments": {"messages": _chat_history(arguments=json.dumps({"id": V}))},
        "tool_message_content": {"messages": _chat_history(result=S)},
        "tool_name": {**m, "tools": [_chat_tool(name=V)]},
        "tool_description": {**m, "tools": [_chat_tool(description=S)]},
        "tool_choice_name": {**m, "tools": [_chat_tool(name=V)],
                             "tool_choice": {"type": "function", "function": {"name": V}}},
        "response_format_name": {**m, "response_format": {"type": "json_schema", "json_schema": {
            "name": V, "schema": {"type": "object"}}}},
        "response_format_description": {**m, "response_format": {"type": "json_schema", "json_schema": {
            "name": "answer", "description": S, "schema": {"type": "object"}}}},
        "user": {**m, "user": V},
        "metadata_value": {**m, "metadata": {"customer": V}, "store": True},
        "metadata_key": {**m, "metadata": {V: "yes"}, "store": True},
        "stop_string": {**m, "stop": V},
        "stop_list": {**m, "stop": ["END", V]},
        "prediction": {**m, "prediction": {"type": "content", "content": S}},
        "prompt_cache_key": {**m, "prompt_cache_key": V},
        "safety_identifier": {**m, "safety_identifier": V},
        "extra_body": {**m, "extra_body": {"vendor_hint": S}},
    }
    for spot in SCHEMA_SPOTS:
        cases[f"tool_schema_{spot}"] = {**m, "tools": [_chat_tool(spot=spot)]}
        cases[f"response_format_schema_{spot}"] = {**m, "response_format": {"type": "json_schema", "json_schema": {
            "name": "answer", "schema": _schema(spot)}}}
    return cases


def _responses_tool(name: str = "lookup", description: str = "Look a customer up.", spot: str | None = None) -> dict:
    return {"type": "function", "name": name, "description": description,
            "parameters": _schema(spot) if spot else {"type": "object", "properties": {"id": {"type": "string"}}}}


def _responses_history(call_id: str = "call_1", name: str = "lookup", arguments: str = '{"id": "1"}',
                       output: str = "not found") -> list[dict]:
    return [{"role": "user", "content": "look me up"},
            {"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments},
            {"type": "function_call_output", "call_id": call_id, "output": output}]


def _responses_cases() -> dict[str, dict[str, Any]]:
    i = {"input": "hello"}
    cases: dict[str, dict[str, Any]] = {
        "instructions": {**i, "instructions": S},
        "input_string": {"input": S},
        "input_text_part": {"input": [{"role": "user", "content": [{"type": "input_text", "text": S}]}]},
        "input_image_url": {"input": [{"role": "user", "content": [
            {"type": "input_text", "text": "what is this"},
            {"type": "input_image", "image_url": f"https://img.example/scan.png?ssn={V}", "detail": "auto"}]}]},
        "developer_message": {"input": [{"role": "developer", "content": S}, {"role": "user", "content": "hello"}]},
        "system_message": {"input": [{"role": "system", "content": S}, {"role": "user", "content": "hello"}]},
        "assistant_message": {"input": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": S},
                                        {"role": "user", "content": "hello"}]},
        "function_call_arguments": {"input": _responses_history(arguments=json.dumps({"id": V}))},
        "function_call_name": {"input": _responses_history(name=V), "tools": [_responses_tool(name=V)]},
        "function_call_id": {"input": _responses_history(call_id=V)},
        "function_call_output": {"input": _responses_history(output=S)},
        "tool_name": {**i, "tools": [_responses_tool(name=V)]},
        "tool_description": {**i, "tools": [_responses_tool(description=S)]},
        "tool_choice_name": {**i, "tools": [_responses_tool(name=V)], "tool_choice": {"type": "function", "name": V}},
        "text_format_name": {**i, "text": {"format": {"type": "json_schema", "name": V, "schema": {"type": "object"}}}},
        "text_format_description": {**i, "text": {"format": {"type": "json_schema", "name": "answer",
                                                             "description": S, "schema": {"type": "object"}}}},
        "metadata_value": {**i, "metadata": {"customer": V}},
        "metadata_key": {**i, "metadata": {V: "yes"}},
        "user": {**i, "user": V},
        "prompt_cache_key": {**i, "prompt_cache_key": V},
        "safety_identifier": {**i, "safety_identifier": V},
        "extra_body": {**i, "extra_body": {"vendor_hint": S}},
    }
    for spot in SCHEMA_SPOTS:
        cases[f"tool_schema_{spot}"] = {**i, "tools": [_responses_tool(spot=spot)]}
        cases[f"text_format_schema_{spot}"] = {**i, "text": {"format": {
            "type": "json_schema", "name": "answer", "schema": _schema(spot)}}}
    return cases


def _anthropic_tool(name: str = "lookup", description: str = "Look a customer up.", spot: str | None = None) -> dict:
    return {"name": name, "description": description,
            "input_schema": _schema(spot) if spot else {"type": "object", "properties": {"id": {"type": "string"}}}}


def _anthropic_history(tool_id: str = "toolu_1", name: str = "lookup", tool_input: dict | None = None,
                       result: Any = "not found") -> list[dict]:
    return [{"role": "user", "content": "look me up"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": tool_id, "name": name,
                                                "input": tool_input or {"id": "1"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_id, "content": result},
                                         {"type": "text", "text": "thanks"}]}]


def _anthropic_cases() -> dict[str, dict[str, Any]]:
    m = {"messages": [USER]}
    cases: dict[str, dict[str, Any]] = {
        "system_string": {**m, "system": S},
        "system_blocks": {**m, "system": [{"type": "text", "text": S}]},
        "user_string": {"messages": [{"role": "user", "content": S}]},
        "user_text_block": {"messages": [{"role": "user", "content": [{"type": "text", "text": S}]}]},
        "image_url_source": {"messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is this"},
            {"type": "image", "source": {"type": "url", "url": f"https://img.example/scan.png?ssn={V}"}}]}]},
        "document_text": {"messages": [{"role": "user", "content": [
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": S}},
            {"type": "text", "text": "summarise"}]}]},
        "document_title": {"messages": [{"role": "user", "content": [
            {"type": "document", "title": V, "source": {"type": "text", "media_type": "text/plain", "data": "a note"}},
            {"type": "text", "text": "summarise"}]}]},
        "assistant_text": {"messages": [USER, {"role": "assistant", "content": [{"type": "text", "text": S}]},
                                        {"role": "user", "content": "go on"}]},
        "tool_use_input": {"messages": _anthropic_history(tool_input={"id": V})},
        "tool_use_nested_input": {"messages": _anthropic_history(tool_input={"who": {"ids": [V]}})},
        "tool_use_id": {"messages": _anthropic_history(tool_id=V)},
        "tool_use_name": {"messages": _anthropic_history(name=V), "tools": [_anthropic_tool(name=V)]},
        "tool_result_string": {"messages": _anthropic_history(result=S)},
        "tool_result_blocks": {"messages": _anthropic_history(result=[{"type": "text", "text": S}])},
        "tool_name": {**m, "tools": [_anthropic_tool(name=V)]},
        "tool_description": {**m, "tools": [_anthropic_tool(description=S)]},
        "tool_choice_name": {**m, "tools": [_anthropic_tool(name=V)], "tool_choice": {"type": "tool", "name": V}},
        "metadata_user_id": {**m, "metadata": {"user_id": V}},
        "stop_sequences": {**m, "stop_sequences": [V]},
        "extra_body": {**m, "extra_body": {"vendor_hint": S}},
    }
    for spot in SCHEMA_SPOTS:
        cases[f"tool_schema_{spot}"] = {**m, "tools": [_anthropic_tool(spot=spot)]}
        cases[f"output_format_schema_{spot}"] = {**m, "extra_body": {"output_config": {"format": {
            "type": "json_schema", "schema": _schema(spot)}}}}
    return cases


CASES: dict[str, dict[str, dict[str, Any]]] = {
    "chat": _chat_cases(), "responses": _responses_cases(), "anthropic": _anthropic_cases()}
IDS = [(api, field) for api, fields in CASES.items() for field in fields]
# Streamed: one case per API with the value in several fields at once.
STREAMED: dict[str, dict[str, Any]] = {
    "chat": {**CASES["chat"]["tool_call_arguments"], "tools": [_chat_tool(description=S)], "user": V},
    "responses": {**CASES["responses"]["function_call_output"], "instructions": S, "tools": [_responses_tool(spot="enum")]},
    "anthropic": {**CASES["anthropic"]["tool_use_input"], "system": S, "tools": [_anthropic_tool(spot="default")]},
}
