"""Anthropic API fidelity end to end, through the official anthropic SDK over loopback:
token counting, the models list in Anthropic's shape, stop_sequence stop reasons (streamed and
not) and the real input tokens in ``message_start``."""

from __future__ import annotations

import anthropic
import pytest

from tests.fakes.anthropic_upstream import start_fake_anthropic
from tests.harness import serve_mesh

KEY = "sk-ant-upstream-secret-91"
WEATHER = {"name": "get_weather", "description": "Weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}
ROUTES = ["alpha", "beta", "claude", "echo", "gamma"]


@pytest.fixture(scope="module")
def mesh():
    with start_fake_anthropic(api_key=KEY) as fake:
        routes = {name: {"provider": "echo", "model": "echo-1"} for name in ("alpha", "beta", "gamma", "echo")}
        routes["claude"] = {"provider": "claude", "model": "claude-sonnet-4-20250514"}
        config = {
            "providers": {"echo": {"kind": "echo"},
                          "claude": {"kind": "anthropic", "base_url": fake.base_url, "api_key": {"env": "ANT_KEY"}}},
            "routes": routes,
            "apps": {"test": {"routes": "*", "admin": True}, "narrow": {"routes": ["echo"]}},
        }
        with serve_mesh(config, env={"ANT_KEY": KEY}) as running:
            yield running


@pytest.fixture(scope="module")
def client(mesh):
    return anthropic.Anthropic(base_url=mesh.root_url, api_key=mesh.api_key, max_retries=0)


def test_count_tokens_is_the_flagged_estimate_the_echo_route_bills(client):
    messages = [{"role": "user", "content": "how many tokens is this sentence?"}]
    raw = client.messages.with_raw_response.count_tokens(model="echo", system="be brief", messages=messages)
    assert raw.headers["x-mesh-estimate"] == "true"
    counted = raw.parse().input_tokens
    billed = client.messages.create(model="echo", max_tokens=20, system="be brief", messages=messages).usage.input_tokens
    assert counted == billed > 0  # the echo double bills the same tiktoken count
    with_tools = client.messages.count_tokens(model="echo", messages=messages, tools=[WEATHER]).input_tokens
    assert with_tools > counted


def test_count_tokens_errors_in_anthropic_shape(client):
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.messages.count_tokens(model="no-such-route", messages=[{"role": "user", "content": "x"}])
    assert caught.value.body["type"] == "error" and caught.value.body["error"]["type"] == "not_found_error"
    with pytest.raises(anthropic.BadRequestError):
        client.messages.count_tokens(model="echo", messages=[])


def test_models_list_in_anthropic_shape_and_paged(mesh, client):
    page = client.models.list(limit=2)
    assert [m.id for m in page.data] == ROUTES[:2] and page.has_more and (page.first_id, page.last_id) == ("alpha", "beta")
    assert all(m.type == "model" and m.display_name == m.id and m.created_at.year == 1970 for m in page.data)
    assert [m.id for m in client.models.list(limit=2)] == ROUTES  # the SDK follows has_more / last_id
    assert client.models.retrieve("claude").id == "claude"
    narrow = anthropic.Anthropic(base_url=mesh.root_url, api_key=mesh.key_for("narrow"), max_retries=0)
    assert [m.id for m in narrow.models.list()] == ["echo"]
    with pytest.raises(anthropic.PermissionDeniedError):
        narrow.models.retrieve("claude")


def test_stop_sequence_is_reported_when_hit(client):
    message = client.messages.create(model="claude", max_tokens=50, stop_sequences=["HALT"],
                                     messages=[{"role": "user", "content": "one two HALT three"}])
    assert (message.stop_reason, message.stop_sequence, message.content[0].text) == ("stop_sequence", "HALT", "Echo: one two ")
    plain = client.messages.create(model="claude", max_tokens=50, stop_sequences=["HALT"],
                                   messages=[{"role": "user", "content": "one two"}])
    assert (plain.stop_reason, plain.stop_sequence) == ("end_turn", None)


def test_stop_sequence_streamed_and_message_start_usage(client):
    with client.messages.stream(model="claude", max_tokens=50, stop_sequences=["HALT"],
                                messages=[{"role": "user", "content": "one two HALT three"}]) as stream:
        events = list(stream)
        final = stream.get_final_message()
    start = next(e for e in events if e.type == "message_start")
    delta = next(e for e in events if e.type == "message_delta")
    assert (delta.delta.stop_reason, delta.delta.stop_sequence) == ("stop_sequence", "HALT")
    assert (final.stop_reason, final.stop_sequence) == ("stop_sequence", "HALT")
    # The upstream's own count (the fake counts words), not a zero and not the mesh's estimate.
    assert start.message.usage.input_tokens == final.usage.input_tokens > 0
    estimate = client.messages.count_tokens(model="claude", messages=[{"role": "user", "content": "one two HALT three"}])
    assert estimate.input_tokens != start.message.usage.input_tokens


def test_message_start_usage_through_echo(client):
    with client.messages.stream(model="echo", max_tokens=50, messages=[{"role": "user", "content": "count me"}]) as stream:
        start = next(e for e in stream if e.type == "message_start")
        final = stream.get_final_message()
    assert start.message.usage.input_tokens == final.usage.input_tokens > 0
