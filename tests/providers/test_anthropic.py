"""The anthropic provider against a loopback fake of the Messages API."""

from __future__ import annotations

import json

import pytest

from llm_mesh.config.schema import ProviderConfig
from llm_mesh.errors import (
    ContentPolicyViolation,
    ContextLengthExceeded,
    InvalidRequest,
    RateLimited,
    UpstreamError,
    UpstreamUnavailable,
)
from llm_mesh.providers.anthropic.provider import AnthropicProvider
from llm_mesh.providers.catalog import PROVIDER_KINDS, load_attribute
from llm_mesh.secrets import EnvSecretResolver
from llm_mesh.wire.openai_chat import ChatCompletionRequest
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest
from tests.fakes.anthropic_upstream import Behaviour, start_fake_anthropic

KEY = "sk-ant-secret-123456"
MODEL = "claude-sonnet-4-20250514"
TOOLS = [{
    "type": "function",
    "function": {"name": "get_weather", "description": "Weather for a city",
                 "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}]


@pytest.fixture
def fake():
    with start_fake_anthropic(api_key=KEY) as upstream:
        yield upstream


def make(fake, **options) -> AnthropicProvider:
    config = ProviderConfig(kind="anthropic", base_url=fake.base_url, api_key={"env": "ANT_KEY"}, options=options)
    return AnthropicProvider("claude", config, EnvSecretResolver({"ANT_KEY": KEY}))


def request(**extra) -> ChatCompletionRequest:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hello there"}]}
    body.update(extra)
    return ChatCompletionRequest.model_validate(body)


async def collect(provider, req):
    return [chunk async for chunk in provider.chat_stream(req)]


def test_kind_is_registered():
    spec = PROVIDER_KINDS["anthropic"]
    assert load_attribute(spec.factory) is AnthropicProvider
    assert load_attribute(spec.options)(default_max_tokens=1000).default_max_tokens == 1000


async def test_chat_sends_headers_and_translates_response(fake):
    provider = make(fake)
    result = await provider.chat(request(
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello there"}],
        temperature=1.5, stop=["zzz"], user="u-1",
    ))
    sent = fake.last
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == KEY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in sent.headers
    assert sent.json["system"] == [{"type": "text", "text": "Be brief."}]
    assert sent.json["max_tokens"] == 4096
    assert sent.json["temperature"] == 1.0  # clamped to Anthropic's range
    assert sent.json["stop_sequences"] == ["zzz"]
    assert sent.json["metadata"] == {"user_id": "u-1"}
    assert "stream" not in sent.json
    assert result.choices[0].message.content == "Echo: hello there"
    assert result.choices[0].finish_reason == "stop"
    assert result.model == MODEL
    assert result.usage.prompt_tokens == 4 and result.usage.completion_tokens == 3
    await provider.aclose()


async def test_max_tokens_and_length_finish(fake):
    provider = make(fake, default_max_tokens=7)
    await provider.chat(request())
    assert fake.last.json["max_tokens"] == 7
    result = await provider.chat(request(max_completion_tokens=2, max_tokens=50))
    assert fake.last.json["max_tokens"] == 2
    assert result.choices[0].message.content == "Echo: hello"
    assert result.choices[0].finish_reason == "length"


async def test_stop_sequence_maps_to_stop(fake):
    result = await make(fake).chat(request(stop="there"))
    assert result.choices[0].message.content == "Echo: hello "
    assert result.choices[0].finish_reason == "stop"


async def test_cached_tokens_counted_into_prompt_tokens(fake):
    fake.behaviour = Behaviour(cache_read_input_tokens=100, cache_creation_input_tokens=20)
    result = await make(fake).chat(request())
    usage = result.usage
    assert usage.prompt_tokens == 2 + 100 + 20
    assert usage.prompt_tokens_details.cached_tokens == 100
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


async def test_refusal_maps_to_content_filter(fake):
    fake.queue(Behaviour(stop_reason="refusal", content="I can't help with that."))
    result = await make(fake).chat(request())
    assert result.choices[0].finish_reason == "content_filter"


async def test_tool_call_round_trip(fake):
    provider = make(fake)
    first = await provider.chat(request(tools=TOOLS, tool_choice="required", parallel_tool_calls=False))
    sent = fake.last.json
    assert sent["tools"] == [{"name": "get_weather", "description": "Weather for a city",
                              "input_schema": TOOLS[0]["function"]["parameters"]}]
    assert sent["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"echo": "hello there"}

    # Send the result back: assistant tool_calls -> tool_use, tool message -> tool_result.
    second = await provider.chat(request(tools=TOOLS, messages=[
        {"role": "user", "content": "hello there"},
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
    ]))
    messages = fake.last.json["messages"]
    assert messages[1] == {"role": "assistant", "content": [
        {"type": "tool_use", "id": call.id, "name": "get_weather", "input": {"echo": "hello there"}}]}
    assert messages[2] == {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}]}
    assert second.choices[0].message.content == "Tool said: sunny"


async def test_named_and_none_tool_choice(fake):
    provider = make(fake)
    named = await provider.chat(request(tools=TOOLS, tool_choice={"type": "function", "function": {"name": "get_weather"}}))
    assert fake.last.json["tool_choice"] == {"type": "tool", "name": "get_weather"}
    assert named.choices[0].message.tool_calls
    none = await provider.chat(request(tools=TOOLS, tool_choice="none", messages=[{"role": "user", "content": "[tool] hi"}]))
    assert fake.last.json["tool_choice"] == {"type": "none"}
    assert none.choices[0].message.tool_calls is None


async def test_consecutive_roles_merged_and_images(fake):
    png = "data:image/png;base64,iVBORw0KGgo="
    await make(fake).chat(request(messages=[
        {"role": "user", "content": "first"},
        {"role": "user", "content": [{"type": "text", "text": "look"},
                                     {"type": "image_url", "image_url": {"url": png}},
                                     {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}]},
        {"role": "developer", "content": "dev rule"},
    ]))
    sent = fake.last.json
    assert sent["system"] == [{"type": "text", "text": "dev rule"}]
    assert sent["messages"] == [{"role": "user", "content": [
        {"type": "text", "text": "first"},
        {"type": "text", "text": "look"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]}]


async def test_json_schema_native_and_forced_tool(fake):
    schema = {"type": "object", "properties": {"echo": {"type": "string"}}, "required": ["echo"]}
    fmt = {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}
    native = await make(fake).chat(request(model="claude-sonnet-4-5-20250929", response_format=fmt))
    assert fake.last.json["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert json.loads(native.choices[0].message.content) == {"echo": "hello there"}

    forced = await make(fake).chat(request(response_format=fmt))  # Sonnet 4: no native structured outputs
    sent = fake.last.json
    assert "output_config" not in sent
    assert sent["tool_choice"] == {"type": "tool", "name": "answer"}
    assert sent["tools"][0]["input_schema"] == schema
    assert forced.choices[0].finish_reason == "stop"
    assert forced.choices[0].message.tool_calls is None
    assert json.loads(forced.choices[0].message.content) == {"echo": "hello there"}


async def test_stream_text(fake):
    chunks = await collect(make(fake), request(stream=True))
    assert fake.last.json["stream"] is True
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: hello there"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    last = chunks[-1]
    assert last.choices == [] and last.usage.prompt_tokens == 2 and last.usage.completion_tokens == 3
    assert len({c.id for c in chunks}) == 1 and chunks[0].id.startswith("msg_")


async def test_stream_tool_call(fake):
    chunks = await collect(make(fake), request(stream=True, tools=TOOLS, tool_choice="required"))
    deltas = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert deltas[0].index == 0 and deltas[0].id.startswith("toolu_") and deltas[0].function.name == "get_weather"
    assert all(d.id is None for d in deltas[1:])
    arguments = "".join(d.function.arguments or "" for d in deltas)
    assert json.loads(arguments) == {"echo": "hello there"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]


async def test_stream_forced_tool_structured_output_becomes_content(fake):
    fmt = {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"}}}
    chunks = await collect(make(fake, structured_output="tool"), request(stream=True, response_format=fmt))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert json.loads(text) == {"echo": "hello there"}
    assert not any(c.choices and c.choices[0].delta.tool_calls for c in chunks)
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]


async def test_stream_cut_raises_stream_cut(fake):
    fake.queue(Behaviour(cut_stream_after=5))
    provider = make(fake)
    received = []
    with pytest.raises(UpstreamError) as info:
        async for chunk in provider.chat_stream(request(stream=True)):
            received.append(chunk)
    assert info.value.code == "stream_cut"
    assert received  # part of the answer arrived before the cut


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("overloaded_error", UpstreamUnavailable), ("rate_limit_error", RateLimited), ("api_error", UpstreamError)],
)
async def test_error_event_mid_stream(fake, kind, expected):
    fake.queue(Behaviour(stream_error_after=4, stream_error_type=kind))
    with pytest.raises(expected) as info:
        await collect(make(fake), request(stream=True))
    if expected is UpstreamUnavailable:
        assert info.value.status == 503


async def test_429_carries_retry_after(fake):
    fake.queue(Behaviour(status=429, retry_after="17"))
    with pytest.raises(RateLimited) as info:
        await make(fake).chat(request())
    assert info.value.headers == {"Retry-After": "17"}
    assert KEY not in info.value.message


async def test_529_overloaded_is_unavailable(fake):
    fake.queue(Behaviour(status=529))
    with pytest.raises(UpstreamUnavailable) as info:
        await make(fake).chat(request())
    assert info.value.status == 503


async def test_529_on_stream_open(fake):
    fake.queue(Behaviour(status=529))
    with pytest.raises(UpstreamUnavailable):
        await collect(make(fake), request(stream=True))


async def test_prompt_too_long_is_context_length(fake):
    fake.queue(Behaviour(status=400, error_message="prompt is too long: 209353 tokens > 199999 maximum"))
    with pytest.raises(ContextLengthExceeded) as info:
        await make(fake).chat(request())
    assert info.value.code == "context_length_exceeded"


async def test_content_filter_error(fake):
    fake.queue(Behaviour(status=400, error_message="Output blocked by content filtering policy"))
    with pytest.raises(ContentPolicyViolation):
        await make(fake).chat(request())


async def test_bad_key_is_gateway_fault_without_secret(fake):
    config = ProviderConfig(kind="anthropic", base_url=fake.base_url, api_key={"env": "ANT_KEY"})
    provider = AnthropicProvider("claude", config, EnvSecretResolver({"ANT_KEY": "wrong-key-abc"}))
    with pytest.raises(UpstreamError) as info:
        await provider.chat(request())
    assert info.value.code == "upstream_auth_failed"
    assert "wrong-key-abc" not in str(info.value.to_body())


async def test_the_fake_rejects_what_anthropic_rejects(fake):
    # A tool_use not answered by a tool_result is an error upstream; the mesh surfaces it as invalid request.
    with pytest.raises(InvalidRequest) as info:
        await make(fake).chat(request(tools=TOOLS, messages=[
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
            {"role": "user", "content": "and?"},
        ]))
    assert "tool_result" in info.value.message


async def test_no_embeddings(fake):
    with pytest.raises(InvalidRequest):
        await make(fake).embed(EmbeddingsRequest.model_validate({"model": "x", "input": "hi"}))
    assert make(fake).capabilities(MODEL).embeddings is False
