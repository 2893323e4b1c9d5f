"""Pure unit tests of the OpenAI <-> Cohere v2 translation (no I/O)."""

from __future__ import annotations

import pytest

from llm_mesh.errors import InvalidRequest, UpstreamError, UpstreamTimeout
from llm_mesh.providers.cohere import translate_openai_cohere as t
from llm_mesh.wire.openai_chat import ChatCompletionRequest
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest

TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather",
                                      "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
    {"type": "function", "function": {"name": "get_time", "strict": True}},
]


def req(**kwargs):  # type: ignore[no-untyped-def]
    base = {"model": "command-a-03-2025", "messages": [{"role": "user", "content": "hi"}]}
    base.update(kwargs)
    return ChatCompletionRequest.model_validate(base)


def test_messages_and_parameters() -> None:
    body = t.chat_request_body(req(
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                         {"type": "image_url", "image_url": {"url": "https://x/cat.png", "detail": "low"}}]},
            {"role": "assistant", "content": "A cat."},
            {"role": "user", "content": "Thanks"},
        ],
        temperature=0.4, top_p=1.0, max_tokens=64, stop="END", seed=3, frequency_penalty=1.5, presence_penalty=-1,
    ), stream=False, safety_mode="STRICT")
    assert body == {
        "model": "command-a-03-2025",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                         {"type": "image_url", "image_url": {"url": "https://x/cat.png", "detail": "low"}}]},
            {"role": "assistant", "content": "A cat."},
            {"role": "user", "content": "Thanks"},
        ],
        "safety_mode": "STRICT", "max_tokens": 64, "stop_sequences": ["END"], "temperature": 0.4, "p": 0.99,
        "seed": 3, "frequency_penalty": 1.0, "presence_penalty": 0.0,
    }
    assert t.chat_request_body(req(), stream=True)["stream"] is True


def test_tool_round_trip_keeps_the_plan() -> None:
    body = t.chat_request_body(req(messages=[
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": "I will look it up.", "tool_calls": [
            {"id": "get_weather_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}]},
        {"role": "tool", "tool_call_id": "get_weather_1", "content": [{"type": "text", "text": "5C"}]},
    ], tools=TOOLS), stream=False)
    assert body["messages"][1] == {"role": "assistant", "tool_plan": "I will look it up.", "tool_calls": [
        {"id": "get_weather_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}]}
    assert body["messages"][2] == {"role": "tool", "tool_call_id": "get_weather_1", "content": "5C"}
    assert body["tools"][0] == {"type": "function", "function": TOOLS[0]["function"]}
    assert body["tools"][1] == {"type": "function", "function": {"name": "get_time"}}
    assert body["strict_tools"] is True
    assert "tool_choice" not in body


def test_tool_choice() -> None:
    assert t.chat_request_body(req(tools=TOOLS, tool_choice="required"), stream=False)["tool_choice"] == "REQUIRED"
    assert t.chat_request_body(req(tools=TOOLS, tool_choice="none"), stream=False)["tool_choice"] == "NONE"
    assert "tool_choice" not in t.chat_request_body(req(tools=TOOLS, tool_choice="auto"), stream=False)
    named = t.chat_request_body(req(tools=TOOLS, tool_choice={"type": "function", "function": {"name": "get_time"}}),
                                stream=False)
    assert named["tool_choice"] == "REQUIRED"
    assert [tool["function"]["name"] for tool in named["tools"]] == ["get_time"]
    with pytest.raises(InvalidRequest):
        t.chat_request_body(req(tools=TOOLS, tool_choice={"type": "function", "function": {"name": "nope"}}), stream=False)


def test_response_format_and_unsupported_requests() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    body = t.chat_request_body(req(response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}),
                               stream=False)
    assert body["response_format"] == {"type": "json_object", "json_schema": schema}
    assert t.chat_request_body(req(response_format={"type": "json_object"}), stream=False)["response_format"] == {
        "type": "json_object"}
    assert "response_format" not in t.chat_request_body(req(response_format={"type": "text"}), stream=False)
    with pytest.raises(InvalidRequest):
        t.chat_request_body(req(n=2), stream=False)
    with pytest.raises(InvalidRequest):
        t.chat_request_body(req(messages=[{"role": "user", "content": [
            {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]}]), stream=False)


def test_finish_reasons() -> None:
    assert t.finish_reason("COMPLETE") == "stop"
    assert t.finish_reason("STOP_SEQUENCE") == "stop"
    assert t.finish_reason("MAX_TOKENS") == "length"
    assert t.finish_reason("TOOL_CALL") == "tool_calls"
    assert t.finish_reason("complete") == "stop"
    assert t.finish_reason("content_blocked") == "content_filter"
    with pytest.raises(UpstreamError, match="boom"):
        t.finish_reason("ERROR", "boom")
    with pytest.raises(UpstreamTimeout):
        t.finish_reason("TIMEOUT")


def test_chat_response_text_tools_and_usage() -> None:
    out = t.chat_response({
        "id": "abc", "finish_reason": "TOOL_CALL",
        "message": {"role": "assistant", "tool_plan": "Looking it up.",
                    "tool_calls": [{"id": "get_weather_x", "type": "function",
                                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}]},
        "usage": {"billed_units": {"input_tokens": 10, "output_tokens": 7},
                  "tokens": {"input_tokens": 300, "output_tokens": 9}, "cached_tokens": 128},
    }, "command-a")
    choice = out.choices[0]
    assert out.id == "chatcmpl-abc"
    assert choice.finish_reason == "tool_calls" and choice.message.content == "Looking it up."
    assert choice.message.tool_calls[0].id == "get_weather_x"
    assert choice.message.tool_calls[0].function.arguments == '{"city":"Oslo"}'
    assert (out.usage.prompt_tokens, out.usage.completion_tokens, out.usage.total_tokens) == (10, 7, 17)
    assert out.usage.prompt_tokens_details.cached_tokens == 128

    text = t.chat_response({"id": "d", "finish_reason": "MAX_TOKENS", "message": {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "hmm"}, {"type": "text", "text": "Hel"}, {"type": "text", "text": "lo"}]},
        "usage": {"tokens": {"input_tokens": 3, "output_tokens": 2}}}, "m")
    assert text.choices[0].message.content == "Hello" and text.choices[0].finish_reason == "length"
    assert text.usage.prompt_tokens == 3  # falls back to raw tokens without billed units
    with pytest.raises(UpstreamError):
        t.chat_response({"finish_reason": "COMPLETE"}, "m")


def _events() -> list[dict]:
    return [
        {"type": "message-start", "id": "m1", "delta": {"message": {"role": "assistant", "content": [], "tool_plan": "",
                                                                    "tool_calls": [], "citations": []}}},
        {"type": "tool-plan-delta", "delta": {"message": {"tool_plan": "Plan."}}},
        {"type": "tool-call-start", "index": 1, "delta": {"message": {"tool_calls": {
            "id": "a_1", "type": "function", "function": {"name": "a", "arguments": ""}}}}},
        {"type": "tool-call-delta", "index": 1, "delta": {"message": {"tool_calls": {"function": {"arguments": '{"x":'}}}}},
        {"type": "tool-call-delta", "index": 1, "delta": {"message": {"tool_calls": {"function": {"arguments": "1}"}}}}},
        {"type": "tool-call-end", "index": 1},
        {"type": "tool-call-start", "index": 2, "delta": {"message": {"tool_calls": {
            "id": "b_2", "type": "function", "function": {"name": "b", "arguments": ""}}}}},
        {"type": "tool-call-delta", "index": 2, "delta": {"message": {"tool_calls": {"function": {"arguments": "{}"}}}}},
        {"type": "tool-call-end", "index": 2},
        {"type": "message-end", "delta": {"finish_reason": "TOOL_CALL",
                                          "usage": {"billed_units": {"input_tokens": 4, "output_tokens": 6}}}},
    ]


def test_stream_translator_tool_calls() -> None:
    st = t.StreamTranslator(model="command-a")
    chunks = [c for e in _events() for c in st.feed(e)] + st.close()
    assert chunks[0].choices[0].delta.role == "assistant" and chunks[0].id == "chatcmpl-m1"
    assert chunks[1].choices[0].delta.content == "Plan."
    deltas = [d for c in chunks if c.choices for d in c.choices[0].delta.tool_calls or []]
    assert [(d.index, d.id, d.function.name) for d in deltas if d.id] == [(0, "a_1", "a"), (1, "b_2", "b")]
    args: dict[int, str] = {}
    for d in deltas:
        args[d.index] = args.get(d.index, "") + (d.function.arguments or "")
    assert args == {0: '{"x":1}', 1: "{}"}
    assert chunks[-2].choices[0].finish_reason == "tool_calls"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 10


def test_stream_translator_text_cut_and_error() -> None:
    st = t.StreamTranslator(model="m")
    out = []
    for event in [
        {"type": "message-start", "id": "m2"},
        {"type": "content-start", "index": 0, "delta": {"message": {"content": {"type": "text", "text": ""}}}},
        {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": "Hi"}}}},
        {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"thinking": "hidden"}}}},
    ]:
        out.extend(st.feed(event))
    assert [c.choices[0].delta.content for c in out] == ["", "Hi"]
    with pytest.raises(UpstreamError) as info:
        st.close()
    assert info.value.code == "stream_cut"
    with pytest.raises(UpstreamError):
        st.feed({"type": "message-end", "delta": {"finish_reason": "ERROR", "error": "bad"}})
    ok = t.StreamTranslator(model="m")
    ok.feed({"type": "message-start", "id": "x"})
    ok.feed({"type": "message-end", "delta": {"finish_reason": "COMPLETE"}})
    assert ok.close() == []  # no usage reported: no usage chunk


def test_embeddings() -> None:
    body = t.embed_request_body(EmbeddingsRequest(model="embed-v4.0", input=["a", "b"], dimensions=256), "search_query")
    assert body == {"model": "embed-v4.0", "texts": ["a", "b"], "input_type": "search_query",
                    "embedding_types": ["float"], "output_dimension": 256}
    assert "output_dimension" not in t.embed_request_body(EmbeddingsRequest(model="e", input="a"), "search_document")
    out = t.embed_response({"embeddings": {"float": [[0.1, 0.2], [0.3, 0.4]]},
                            "meta": {"billed_units": {"input_tokens": 2}}}, "embed-v4.0")
    assert [d.embedding for d in out.data] == [[0.1, 0.2], [0.3, 0.4]] and out.usage.prompt_tokens == 2
    with pytest.raises(UpstreamError):
        t.embed_response({"embeddings": {"int8": [[1]]}}, "e")
    with pytest.raises(InvalidRequest):
        t.embed_request_body(EmbeddingsRequest(model="e", input=["x"] * 97), "search_document")
