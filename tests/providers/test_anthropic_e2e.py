"""End to end: the official openai SDK -> the mesh (real HTTP) -> the Anthropic fake."""

from __future__ import annotations

import json

import openai
import pytest

from tests.fakes.anthropic_upstream import start_fake_anthropic
from tests.harness import serve_mesh
from tests.providers.e2e_helpers import openai_client, stream_text, streamed_arguments, tool_call_deltas, tool_round_trip

KEY = "sk-ant-upstream-secret-42"
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]


@pytest.fixture(scope="module")
def upstream():
    with start_fake_anthropic(api_key=KEY) as fake:
        yield fake


@pytest.fixture(scope="module")
def mesh(upstream):
    config = {
        "providers": {"claude": {"kind": "anthropic", "base_url": upstream.base_url, "api_key": {"env": "ANT_KEY"}}},
        "routes": {
            "claude": {"provider": "claude", "model": "claude-sonnet-4-20250514"},
            "claude-limited": {"provider": "claude", "model": "claude-x;status=429;retry_after=9"},
            "claude-overloaded": {"provider": "claude", "model": "claude-x;status=529"},
        },
    }
    with serve_mesh(config, env={"ANT_KEY": KEY}) as running:
        yield running


@pytest.fixture()
def client(mesh):
    return openai_client(mesh)


def test_chat(client, upstream):
    completion = client.chat.completions.create(
        model="claude", messages=[{"role": "system", "content": "terse"}, {"role": "user", "content": "hi mesh"}])
    assert completion.choices[0].message.content == "Echo: hi mesh"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.prompt_tokens == 3
    assert upstream.last.json["system"] == [{"type": "text", "text": "terse"}]
    assert upstream.last.headers["x-api-key"] == KEY


def test_stream_with_usage(client):
    stream = client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "stream me"}],
                                            stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    assert stream_text(chunks) == "Echo: stream me"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3


def test_tools_round_trip(client):
    first, call, second = tool_round_trip(client, "claude", TOOLS, "Paris", "22C", tool_choice="required")
    assert first.choices[0].finish_reason == "tool_calls" and json.loads(call.function.arguments) == {"echo": "Paris"}
    assert second.choices[0].message.content == "Tool said: 22C"


def test_streamed_tool_call(client):
    stream = client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "Rome"}],
                                            tools=TOOLS, tool_choice={"type": "function", "function": {"name": "get_weather"}},
                                            stream=True)
    deltas = tool_call_deltas(stream)
    assert deltas[0].function.name == "get_weather"
    assert streamed_arguments(deltas) == {"echo": "Rome"}


def test_rate_limit_and_overload_reach_the_client(client):
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="claude-limited", messages=[{"role": "user", "content": "x"}])
    assert info.value.response.headers.get("retry-after") == "9"
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="claude-overloaded", messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == 503
    assert KEY not in info.value.response.text
