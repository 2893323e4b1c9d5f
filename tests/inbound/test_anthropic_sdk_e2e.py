"""End to end: the official anthropic SDK -> the mesh's /v1/messages (real HTTP) -> the echo
provider and the Anthropic fake. Skips (visibly) until the app mounts /v1/messages."""

from __future__ import annotations

import json

import anthropic
import httpx
import pytest

from tests.fakes.anthropic_upstream import start_fake_anthropic
from tests.harness import serve_mesh

KEY = "sk-ant-upstream-secret-77"
WEATHER = {"name": "get_weather", "description": "Weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}


@pytest.fixture(scope="module")
def mesh():
    with start_fake_anthropic(api_key=KEY) as fake:
        config = {
            "providers": {
                "echo": {"kind": "echo"},
                "claude": {"kind": "anthropic", "base_url": fake.base_url, "api_key": {"env": "ANT_KEY"}},
            },
            "routes": {
                "echo": {"provider": "echo", "model": "echo-1"},
                "claude": {"provider": "claude", "model": "claude-sonnet-4-20250514"},
                "claude-overloaded": {"provider": "claude", "model": "claude-x;status=529"},
                "claude-cut": {"provider": "claude", "model": "claude-x;cut_stream_after=6"},
            },
        }
        with serve_mesh(config, env={"ANT_KEY": KEY}) as running:
            probe = httpx.post(running.root_url + "/v1/messages", json={}, headers={"x-api-key": running.api_key})
            if probe.status_code == 404 and "no route" in probe.text:
                pytest.skip("the app does not mount POST /v1/messages yet")
            running.fake = fake  # type: ignore[attr-defined]
            yield running


@pytest.fixture()
def client(mesh):
    return anthropic.Anthropic(base_url=mesh.root_url, api_key=mesh.api_key, max_retries=0)


def test_create_through_echo(client):
    message = client.messages.create(model="echo", max_tokens=500, system="be brief",
                                     messages=[{"role": "user", "content": "hello"}], stop_sequences=["ZZZ"])
    assert message.model == "echo" and message.role == "assistant" and message.stop_reason == "end_turn"
    sent = json.loads(message.content[0].text)
    assert sent["messages"] == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]
    assert sent["stop"] == ["ZZZ"] and sent["max_tokens"] == 500
    assert message.usage.input_tokens > 0


def test_stream_through_echo(client):
    with client.messages.stream(model="echo", max_tokens=500, messages=[{"role": "user", "content": "stream"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert json.loads(text)["messages"] == [{"role": "user", "content": "stream"}]
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0 and final.usage.input_tokens > 0


def test_tools_through_echo_stream(client):
    with client.messages.stream(model="echo", max_tokens=100, messages=[{"role": "user", "content": "Oslo"}],
                                tools=[WEATHER], tool_choice={"type": "tool", "name": "get_weather"}) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert final.content[0].type == "tool_use" and final.content[0].input == {"echo": "Oslo"}


def test_create_and_tools_through_anthropic_fake(client, mesh):
    first = client.messages.create(model="claude", max_tokens=100, tools=[WEATHER], tool_choice={"type": "any"},
                                   messages=[{"role": "user", "content": "Lima"}])
    tool_use = first.content[0]
    assert first.stop_reason == "tool_use" and tool_use.input == {"echo": "Lima"}
    second = client.messages.create(model="claude", max_tokens=100, tools=[WEATHER], messages=[
        {"role": "user", "content": "Lima"},
        {"role": "assistant", "content": [tool_use.model_dump()]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "19C"}]},
    ])
    assert second.content[0].text == "Tool said: 19C"
    upstream_messages = mesh.fake.last.json["messages"]
    assert upstream_messages[2]["content"][0] == {"type": "tool_result", "tool_use_id": tool_use.id, "content": "19C"}


def test_stream_through_anthropic_fake(client):
    with client.messages.stream(model="claude", max_tokens=100, messages=[{"role": "user", "content": "hi there"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Echo: hi there" and final.usage.output_tokens == 3


def test_errors_in_anthropic_shape(client):
    with pytest.raises(anthropic.APIStatusError) as info:
        client.messages.create(model="claude-overloaded", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert info.value.body["type"] == "error" and info.value.body["error"]["type"] == "overloaded_error"
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(model="echo", max_tokens=10, messages=[{"role": "system", "content": "x"}])
    assert info.value.body["error"]["type"] == "invalid_request_error"


def test_stream_cut_ends_with_an_error_event(client):
    with pytest.raises(anthropic.APIStatusError):
        with client.messages.stream(model="claude-cut", max_tokens=100, messages=[{"role": "user", "content": "a b c d"}]) as stream:
            for _ in stream.text_stream:
                pass
