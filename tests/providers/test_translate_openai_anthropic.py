"""Pure unit tests of the canonical -> Anthropic translation (no I/O)."""

from __future__ import annotations

import json

import pytest

from llm_mesh.errors import InvalidRequest, UpstreamError
from llm_mesh.providers.anthropic.capabilities import supports_native_structured_output
from llm_mesh.providers.anthropic.options import AnthropicOptions
from llm_mesh.providers.anthropic.translate_openai_anthropic import StreamTranslator, chat_request_body, chat_response
from llm_mesh.wire.openai_chat import ChatCompletionRequest

OPTIONS = AnthropicOptions()


def body(**extra):
    request = ChatCompletionRequest.model_validate({"model": "claude-3-5-haiku-latest", **extra})
    return chat_request_body(request, OPTIONS, stream=False).body


def test_system_and_developer_lifted_in_order():
    sent = body(messages=[
        {"role": "system", "content": "one"},
        {"role": "user", "content": "hi"},
        {"role": "developer", "content": [{"type": "text", "text": "two"}]},
    ])
    assert sent["system"] == [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]
    assert sent["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]


def test_parallel_tool_results_merge_into_one_user_turn_before_text():
    calls = [{"id": f"c{i}", "type": "function", "function": {"name": "f", "arguments": json.dumps({"i": i})}} for i in (1, 2)]
    sent = body(messages=[
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": "calling", "tool_calls": calls},
        {"role": "user", "content": "extra note"},
        {"role": "tool", "tool_call_id": "c1", "content": "r1"},
        {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "r2"}]},
    ], tools=[{"type": "function", "function": {"name": "f"}}])
    assistant, user = sent["messages"][1], sent["messages"][2]
    assert assistant["content"] == [
        {"type": "text", "text": "calling"},
        {"type": "tool_use", "id": "c1", "name": "f", "input": {"i": 1}},
        {"type": "tool_use", "id": "c2", "name": "f", "input": {"i": 2}},
    ]
    assert [b["type"] for b in user["content"]] == ["tool_result", "tool_result", "text"]
    assert user["content"][1] == {"type": "tool_result", "tool_use_id": "c2", "content": "r2"}
    assert sent["tools"] == [{"name": "f", "input_schema": {"type": "object", "properties": {}}}]


def test_tool_choice_mapping():
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    base = {"messages": [{"role": "user", "content": "x"}], "tools": tools}
    assert body(**base, tool_choice="auto")["tool_choice"] == {"type": "auto"}
    assert body(**base, tool_choice="required")["tool_choice"] == {"type": "any"}
    assert body(**base, tool_choice="none")["tool_choice"] == {"type": "none"}
    assert body(**base, tool_choice={"type": "function", "function": {"name": "f"}})["tool_choice"] == {"type": "tool", "name": "f"}
    assert body(**base, parallel_tool_calls=False)["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    assert "tool_choice" not in body(**base)


def test_invalid_inputs_rejected():
    with pytest.raises(InvalidRequest):
        body(messages=[{"role": "user", "content": "x"}], n=2)
    with pytest.raises(InvalidRequest):
        body(messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x/y.png"}}]}])
    with pytest.raises(InvalidRequest):
        body(messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/bmp;base64,AA"}}]}])
    with pytest.raises(InvalidRequest) as info:
        body(messages=[{"role": "assistant", "tool_calls": [{"id": "a", "type": "function", "function": {"name": "f", "arguments": "{oops"}}]}])
    assert info.value.param == "messages.0.tool_calls.0.function.arguments"


def test_pdf_file_part_becomes_document():
    sent = body(messages=[{"role": "user", "content": [
        {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBER"}}]}])
    assert sent["messages"][0]["content"] == [
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBER"}, "title": "a.pdf"}]


def test_dropped_fields_never_sent():
    sent = body(messages=[{"role": "user", "content": "x"}], seed=1, presence_penalty=1, frequency_penalty=1,
                logprobs=True, response_format={"type": "json_object"}, metadata={"team": "a"})
    assert set(sent) == {"model", "messages", "max_tokens"}


def test_native_structured_output_models():
    assert supports_native_structured_output("claude-sonnet-4-5-20250929")
    assert supports_native_structured_output("claude-opus-4-1-20250805")
    assert supports_native_structured_output("claude-haiku-4-5")
    assert not supports_native_structured_output("claude-sonnet-4-20250514")
    assert not supports_native_structured_output("claude-3-5-sonnet-latest")


def test_response_mapping():
    completion = chat_response({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
        "content": [{"type": "thinking", "thinking": "hmm", "signature": "s"}, {"type": "text", "text": "Let me check."},
                    {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": [1]}}],
        "stop_reason": "tool_use", "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 30, "cache_creation_input_tokens": 7},
    })
    choice = completion.choices[0]
    assert choice.message.content == "Let me check."
    assert choice.message.tool_calls[0].id == "toolu_1" and json.loads(choice.message.tool_calls[0].function.arguments) == {"a": [1]}
    assert choice.finish_reason == "tool_calls"
    assert completion.usage.prompt_tokens == 47 and completion.usage.prompt_tokens_details.cached_tokens == 30
    for reason, expected in [("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"),
                             ("refusal", "content_filter"), ("model_context_window_exceeded", "length")]:
        data = {"id": "m", "model": "c", "content": [], "stop_reason": reason, "usage": {"input_tokens": 1, "output_tokens": 0}}
        assert chat_response(data).choices[0].finish_reason == expected
    with pytest.raises(UpstreamError):
        chat_response({"type": "message"})


def test_stream_translator_events():
    t = StreamTranslator()
    out = []
    events = [
        {"type": "message_start", "message": {"id": "msg_9", "model": "c", "usage": {"input_tokens": 4, "cache_read_input_tokens": 2, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_a", "name": "f", "input": {}}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"a":'}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "1}"}},
        {"type": "content_block_stop", "index": 1},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None}, "usage": {"output_tokens": 9}},
        {"type": "message_stop"},
    ]
    for event in events:
        out.extend(t.feed(event["type"], event))
    assert t.completed
    assert out[0].choices[0].delta.role == "assistant"
    assert out[1].choices[0].delta.content == "Hi"
    first_call = out[2].choices[0].delta.tool_calls[0]
    assert (first_call.index, first_call.id, first_call.function.name) == (0, "toolu_a", "f")
    assert "".join(c.choices[0].delta.tool_calls[0].function.arguments for c in out[2:5]) == '{"a":1}'
    assert out[5].choices[0].finish_reason == "tool_calls"
    assert out[6].choices == [] and out[6].usage.prompt_tokens == 6 and out[6].usage.completion_tokens == 9
    assert out[6].usage.prompt_tokens_details.cached_tokens == 2
    assert {c.id for c in out} == {"msg_9"}


def test_stream_must_start_with_message_start():
    with pytest.raises(UpstreamError):
        StreamTranslator().feed("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}})
