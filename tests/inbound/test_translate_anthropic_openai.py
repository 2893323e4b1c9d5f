"""Inbound Anthropic Messages translation: unit tests, plus the official anthropic SDK
driven through an in-process transport that uses only the four public functions."""

from __future__ import annotations

import asyncio
import json

import anthropic
import httpx2
import pytest

from llm_mesh.errors import (
    AuthenticationFailed,
    InvalidRequest,
    ModelNotFound,
    PermissionDenied,
    RateLimited,
    UpstreamError,
    UpstreamUnavailable,
)
from llm_mesh.inbound.anthropic import (
    anthropic_error_body,
    parse_messages_request,
    stream_anthropic_events,
    to_anthropic_message,
)
from llm_mesh.providers.echo.provider import EchoProvider
from llm_mesh.wire.openai_chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChunkChoice,
    Delta,
    PromptTokensDetails,
    ToolCallDelta,
    ToolCallDeltaFunction,
    Usage,
)

WEATHER = {"name": "get_weather", "description": "Weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}


def canonical(**body):
    return parse_messages_request({"model": "route", "max_tokens": 64, **body})[1]


# ------------------------------------------------------------------ request
def test_request_translation():
    request = canonical(
        system=[{"type": "text", "text": "Be kind.", "cache_control": {"type": "ephemeral"}}],
        messages=[
            {"role": "user", "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
                {"type": "image", "source": {"type": "url", "url": "https://x.test/a.jpg"}},
            ]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "...", "signature": "sig"},
                {"type": "text", "text": "checking"},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "sunny"}]},
                {"type": "text", "text": "thanks"},
            ]},
        ],
        tools=[WEATHER], tool_choice={"type": "any", "disable_parallel_tool_use": True},
        stop_sequences=["END"], temperature=0.3, top_p=0.9, top_k=5, metadata={"user_id": "u7"},
    )
    dumped = request.model_dump(exclude_none=True)
    assert dumped["messages"][0] == {"role": "system", "content": [{"type": "text", "text": "Be kind."}]}
    assert dumped["messages"][1]["content"][1] == {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    assert dumped["messages"][1]["content"][2] == {"type": "image_url", "image_url": {"url": "https://x.test/a.jpg"}}
    assert dumped["messages"][2] == {"role": "assistant", "content": "checking", "tool_calls": [
        {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]}
    assert dumped["messages"][3] == {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"}
    assert dumped["messages"][4] == {"role": "user", "content": [{"type": "text", "text": "thanks"}]}
    assert dumped["tools"] == [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                                                                 "parameters": WEATHER["input_schema"]}}]
    assert dumped["tool_choice"] == "required" and dumped["parallel_tool_calls"] is False
    assert dumped["stop"] == ["END"] and dumped["max_tokens"] == 64 and dumped["user"] == "u7"
    assert "top_k" not in dumped  # no OpenAI equivalent: dropped


def test_tool_choice_and_structured_output():
    assert canonical(messages=[{"role": "user", "content": "x"}], tools=[WEATHER],
                     tool_choice={"type": "tool", "name": "get_weather"}).tool_choice.function.name == "get_weather"
    assert canonical(messages=[{"role": "user", "content": "x"}], tools=[WEATHER], tool_choice={"type": "none"}).tool_choice == "none"
    request = canonical(messages=[{"role": "user", "content": "x"}],
                        output_config={"format": {"type": "json_schema", "schema": {"type": "object"}}})
    assert request.response_format.type == "json_schema" and request.response_format.json_schema.schema_ == {"type": "object"}


def test_error_tool_result_and_stream_flags():
    request = canonical(stream=True, messages=[
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "get_weather", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "boom", "is_error": True}]},
    ], tools=[WEATHER])
    assert request.messages[1].content == "Error: boom"
    assert request.stream is True and request.stream_options.include_usage is True


@pytest.mark.parametrize("body, param", [
    ({"model": "r", "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
    ({"model": "r", "max_tokens": 5, "messages": []}, "messages"),
    ({"model": "r", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]}, "messages.0.role"),
    ({"model": "r", "max_tokens": 5, "temperature": 1.5, "messages": [{"role": "user", "content": "x"}]}, "temperature"),
    ({"model": "r", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}],
      "tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools.0.type"),
    ({"model": "r", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "video", "x": 1}]}]}, None),
])
def test_bad_requests_raise_invalid_request(body, param):
    with pytest.raises(InvalidRequest) as info:
        parse_messages_request(body)
    if param is not None:
        assert info.value.param is not None and info.value.param.startswith(param)
    assert info.value.message


def test_non_object_body():
    with pytest.raises(InvalidRequest):
        parse_messages_request([1, 2])


# ------------------------------------------------------------------ response
def test_message_response():
    completion = ChatCompletion.model_validate({
        "id": "chatcmpl-1", "created": 1, "model": "gpt-4o",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": "Sure.", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}]}}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 7, "total_tokens": 57, "prompt_tokens_details": {"cached_tokens": 20}},
    })
    message = to_anthropic_message(completion, "route")
    assert message == {
        "id": "msg_chatcmpl-1", "type": "message", "role": "assistant", "model": "route",
        "content": [{"type": "text", "text": "Sure."},
                    {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Oslo"}}],
        "stop_reason": "tool_use", "stop_sequence": None,
        "usage": {"input_tokens": 30, "output_tokens": 7, "cache_read_input_tokens": 20},
    }
    for finish, reason in [("stop", "end_turn"), ("length", "max_tokens"), ("content_filter", "refusal")]:
        completion.choices[0].finish_reason = finish
        assert to_anthropic_message(completion, "r")["stop_reason"] == reason


def test_error_bodies():
    cases = [
        (InvalidRequest("bad"), "invalid_request_error"), (AuthenticationFailed("who"), "authentication_error"),
        (PermissionDenied("no"), "permission_error"), (ModelNotFound("nope"), "not_found_error"),
        (RateLimited("slow"), "rate_limit_error"), (UpstreamUnavailable("busy"), "overloaded_error"),
        (UpstreamError("broke"), "api_error"),
    ]
    for error, kind in cases:
        assert anthropic_error_body(error) == {"type": "error", "error": {"type": kind, "message": error.message}}


# ------------------------------------------------------------------ stream
def _chunk(delta=None, finish=None, usage=None, choices=True):
    return ChatCompletionChunk(id="c1", created=1, model="m", usage=usage,
                               choices=[ChunkChoice(index=0, delta=delta or Delta(), finish_reason=finish)] if choices else [])


async def _aiter(items, error=None):
    for item in items:
        yield item
    if error is not None:
        raise error


def _events(raw: bytes):
    out = []
    for frame in raw.decode().split("\n\n"):
        if not frame:
            continue
        event_line, data_line = frame.split("\n")
        assert event_line.startswith("event: ") and data_line.startswith("data: ")
        data = json.loads(data_line[6:])
        assert data["type"] == event_line[7:]
        out.append(data)
    return out


async def _collect(chunks, error=None):
    raw = b""
    async for frame in stream_anthropic_events(_aiter(chunks, error), "route"):
        raw += frame
    return raw


async def test_stream_event_order_with_text_and_tools():
    chunks = [
        _chunk(Delta(role="assistant", content="")),
        _chunk(Delta(content="Hel")), _chunk(Delta(content="lo")),
        _chunk(Delta(tool_calls=[ToolCallDelta(index=0, id="call_a", type="function", function=ToolCallDeltaFunction(name="f", arguments=""))])),
        _chunk(Delta(tool_calls=[ToolCallDelta(index=0, function=ToolCallDeltaFunction(arguments='{"x":'))])),
        _chunk(Delta(tool_calls=[ToolCallDelta(index=0, function=ToolCallDeltaFunction(arguments="1}"))])),
        _chunk(Delta(tool_calls=[ToolCallDelta(index=1, id="call_b", type="function", function=ToolCallDeltaFunction(name="g", arguments="{}"))])),
        _chunk(finish="tool_calls"),
        _chunk(choices=False, usage=Usage(prompt_tokens=12, completion_tokens=5, total_tokens=17,
                                          prompt_tokens_details=PromptTokensDetails(cached_tokens=2))),
    ]
    events = _events(await _collect(chunks))
    assert [e["type"] for e in events] == [
        "message_start", "ping",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_stop",
        "message_delta", "message_stop",
    ]
    assert events[0]["message"]["model"] == "route" and events[0]["message"]["content"] == []
    assert events[2] == {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    assert events[6]["content_block"] == {"type": "tool_use", "id": "call_a", "name": "f", "input": {}}
    assert events[7]["delta"] == {"type": "input_json_delta", "partial_json": '{"x":'}
    assert events[10]["index"] == 2 and events[10]["content_block"]["name"] == "g"
    assert events[13]["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert events[13]["usage"] == {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 2}


async def test_stream_error_after_start_emits_error_event_then_reraises():
    frames = []
    with pytest.raises(UpstreamUnavailable):
        async for frame in stream_anthropic_events(
            _aiter([_chunk(Delta(role="assistant", content="")), _chunk(Delta(content="par"))], UpstreamUnavailable("gone")), "r"
        ):
            frames.append(frame)
    events = _events(b"".join(frames))
    assert events[-1] == {"type": "error", "error": {"type": "overloaded_error", "message": "gone"}}
    assert "message_stop" not in [e["type"] for e in events]


async def test_stream_without_finish_is_an_error_not_a_clean_end():
    frames = []
    with pytest.raises(UpstreamError):
        async for frame in stream_anthropic_events(_aiter([_chunk(Delta(content="x"))]), "r"):
            frames.append(frame)
    assert _events(b"".join(frames))[-1]["type"] == "error"


async def test_stream_error_before_first_chunk_sends_nothing():
    frames = []
    with pytest.raises(RateLimited):
        async for frame in stream_anthropic_events(_aiter([], RateLimited("slow")), "r"):
            frames.append(frame)
    assert frames == []


# ------------------------------------------------------------------ the anthropic SDK as a client
def _sdk_transport() -> httpx2.MockTransport:
    """A stand-in /v1/messages endpoint over the echo provider, built from the public functions."""
    provider = EchoProvider("echo")

    def handler(request: httpx2.Request) -> httpx2.Response:
        assert request.url.path == "/v1/messages"
        body = json.loads(request.content)
        try:
            parsed, chat = parse_messages_request(body)
        except InvalidRequest as error:
            return httpx2.Response(error.status, json=anthropic_error_body(error))
        upstream = chat.model_copy(update={"model": "echo-model"})
        if parsed.stream:
            async def collect() -> bytes:
                out = b""
                async for frame in stream_anthropic_events(provider.chat_stream(upstream), parsed.model):
                    out += frame
                return out
            return httpx2.Response(200, content=asyncio.run(collect()), headers={"content-type": "text/event-stream"})
        completion = asyncio.run(provider.chat(upstream.model_copy(update={"stream": None, "stream_options": None})))
        return httpx2.Response(200, json=to_anthropic_message(completion, parsed.model))

    return httpx2.MockTransport(handler)


def _client() -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="k", base_url="http://mesh.test", http_client=httpx2.Client(transport=_sdk_transport()), max_retries=0)


def test_sdk_create_parses_message():
    message = _client().messages.create(model="route", max_tokens=200, system="sys",
                                        messages=[{"role": "user", "content": "hi"}])
    assert message.model == "route" and message.stop_reason == "end_turn"
    sent = json.loads(message.content[0].text)  # the echo provider answers with what it received
    assert sent["messages"][0] == {"role": "system", "content": "sys"}
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0


def test_sdk_stream_with_tools_accumulates():
    with _client().messages.stream(model="route", max_tokens=200, messages=[{"role": "user", "content": "Oslo"}],
                                   tools=[WEATHER], tool_choice={"type": "any"}) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    block = final.content[0]
    assert block.type == "tool_use" and block.name == "get_weather" and block.input == {"echo": "Oslo"}
    assert final.usage.output_tokens > 0 and final.usage.input_tokens > 0


def test_sdk_stream_text():
    with _client().messages.stream(model="route", max_tokens=300, messages=[{"role": "user", "content": "hello"}]) as stream:
        text = "".join(stream.text_stream)
    assert json.loads(text)["messages"] == [{"role": "user", "content": "hello"}]


def test_sdk_sees_invalid_request_error():
    with pytest.raises(anthropic.BadRequestError) as info:
        _client().messages.create(model="route", max_tokens=5, messages=[{"role": "user", "content": [{"type": "video"}]}])
    assert info.value.body["error"]["type"] == "invalid_request_error"
