"""The gateway end to end: the official openai SDK over loopback HTTP against a real
mesh server, with the echo provider and a fake OpenAI-compatible upstream."""

from __future__ import annotations

import base64
import json
import struct

import httpx
import openai
import pytest

from tests.fakes.openai_upstream import Behaviour, start_fake_openai
from tests.harness import serve_mesh

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }
]


@pytest.fixture(scope="module")
def upstream():
    with start_fake_openai() as fake:
        yield fake


@pytest.fixture(scope="module")
def mesh(upstream):
    config = {
        "server": {"max_body_bytes": 64 * 1024},
        "providers": {
            "echo": {"kind": "echo"},
            "fake": {"kind": "openai", "base_url": upstream.base_url, "api_key": {"env": "FAKE_UPSTREAM_KEY"}},
            "dead": {"kind": "openai", "base_url": "http://127.0.0.1:9/v1", "timeouts": {"connect": 0.5, "read": 1}},
        },
        "routes": {
            "echo": {"provider": "echo", "model": "echo-1"},
            "gpt": {"provider": "fake", "model": "gpt-4o-mini"},
            "embed": {"provider": "fake", "model": "text-embedding-3-small"},
            "flaky": {"provider": "fake", "model": "gpt-4o;status=503"},
            "limited": {"provider": "fake", "model": "gpt-4o;status=429;retry_after=7"},
            "cut": {"provider": "fake", "model": "gpt-4o;cut_stream_after=3"},
            "tiered": {"targets": [
                {"provider": "echo", "model": "echo-gold", "when": {"tags": {"tier": "gold"}}},
                {"provider": "echo", "model": "echo-1"},
            ]},
            "failover": {
                "targets": [
                    {"provider": "dead", "model": "gpt-4o"},
                    {"provider": "fake", "model": "gpt-4o;status=500"},
                    {"provider": "fake", "model": "gpt-4o-mini"},
                ]
            },
        },
        "apps": {"narrow": {"routes": ["echo"]}},
    }
    with serve_mesh(config, env={"FAKE_UPSTREAM_KEY": "sk-upstream-secret-123"}) as running:
        yield running


@pytest.fixture()
def client(mesh):
    return openai.OpenAI(base_url=mesh.base_url, api_key=mesh.api_key, max_retries=0)


def test_chat_through_echo_shows_what_goes_upstream(client):
    raw = client.chat.completions.with_raw_response.create(
        model="echo",
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}],
        temperature=0.2,
        stop=["END"],
        seed=7,
        metadata={"purpose": "demo"},
    )
    completion = raw.parse()
    sent = json.loads(completion.choices[0].message.content)
    assert sent["model"] == "echo-1"  # the route's upstream model, not the public name
    assert sent["messages"] == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]
    assert sent["temperature"] == 0.2 and sent["stop"] == ["END"] and sent["seed"] == 7
    assert "metadata" not in sent  # mesh-only fields never go upstream
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    headers = raw.headers
    assert headers["x-mesh-route"] == "echo"
    assert headers["x-mesh-provider"] == "echo"
    assert headers["x-mesh-model"] == "echo-1"
    assert headers["x-mesh-request-id"].startswith("req_")
    assert float(headers["x-mesh-overhead-ms"]) >= 0


def test_chat_against_upstream_sends_exact_body_and_key(client, upstream):
    upstream.clear()
    completion = client.chat.completions.create(
        model="gpt",
        messages=[
            {"role": "user", "content": [
                {"type": "text", "text": "what is in this image?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
            ]},
        ],
        max_completion_tokens=50,
        top_p=0.9,
        n=1,
        user="u-42",
        response_format={"type": "json_object"},
    )
    assert json.loads(completion.choices[0].message.content) == {"echo": "what is in this image? [image_url]"}
    request = upstream.last
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-upstream-secret-123"
    body = request.json
    assert body["model"] == "gpt-4o-mini"
    assert body["messages"][0]["content"][1] == {
        "type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}
    }
    assert body["max_completion_tokens"] == 50 and body["top_p"] == 0.9 and body["user"] == "u-42"
    assert body["response_format"] == {"type": "json_object"}
    assert "stream" not in body


def test_json_schema_response_format_passes_through(client, upstream):
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    completion = client.chat.completions.create(
        model="gpt",
        messages=[{"role": "user", "content": "Paris"}],
        response_format={"type": "json_schema", "json_schema": {"name": "place", "schema": schema, "strict": True}},
    )
    assert isinstance(json.loads(completion.choices[0].message.content)["city"], str)
    assert upstream.last.json["response_format"]["json_schema"]["schema"] == schema


def test_tool_calls_round_trip(client, upstream):
    first = client.chat.completions.create(
        model="gpt", messages=[{"role": "user", "content": "weather in Oslo?"}], tools=TOOLS, tool_choice="auto"
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather"
    json.loads(call.function.arguments)
    second = client.chat.completions.create(
        model="gpt",
        messages=[
            {"role": "user", "content": "weather in Oslo?"},
            {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21C"},
        ],
        tools=TOOLS,
    )
    assert second.choices[0].message is not None
    sent = upstream.last.json
    assert sent["messages"][1]["tool_calls"][0]["id"] == call.id
    assert sent["messages"][2] == {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21C"}
    assert sent["tools"][0]["function"]["name"] == "get_weather"


def test_echo_forced_tool_call(client):
    completion = client.chat.completions.create(
        model="echo", messages=[{"role": "user", "content": "ping"}], tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    call = completion.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"echo": "ping"}


def test_streaming_with_usage(client, upstream):
    stream = client.chat.completions.create(
        model="gpt", messages=[{"role": "user", "content": "stream these words please"}], stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: stream these words please"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]


def test_streaming_without_usage_hides_usage_chunk(client, upstream):
    chunks = list(client.chat.completions.create(
        model="gpt", messages=[{"role": "user", "content": "hi"}], stream=True
    ))
    assert all(c.usage is None for c in chunks)
    assert all(c.choices for c in chunks)
    # The mesh still asks upstream for usage, to meter the stream.
    assert upstream.last.json["stream_options"] == {"include_usage": True}


def test_streamed_tool_calls(client):
    stream = client.chat.completions.create(
        model="gpt", messages=[{"role": "user", "content": "weather in Rome?"}], tools=TOOLS, stream=True
    )
    name, arguments, finish = "", "", None
    for chunk in stream:
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls or []:
                name += delta.function.name or ""
                arguments += delta.function.arguments or ""
            finish = choice.finish_reason or finish
    assert name == "get_weather" and finish == "tool_calls"
    assert "city" in json.loads(arguments)


def test_echo_streaming(client):
    raw = client.chat.completions.with_raw_response.create(
        model="echo", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert raw.headers["x-mesh-provider"] == "echo"
    text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    assert json.loads(text)["model"] == "echo-1"


def test_stream_cut_midway_is_an_explicit_error(client):
    stream = client.chat.completions.create(model="cut", messages=[{"role": "user", "content": "a b c d e f g"}], stream=True)
    received = []
    with pytest.raises(openai.APIError):
        for chunk in stream:
            received.append(chunk)
    assert received, "some chunks reached the client before the cut"


def test_embeddings_float_and_base64(client, upstream):
    floats = client.embeddings.create(model="embed", input=["one", "two"], encoding_format="float", dimensions=8)
    assert [len(d.embedding) for d in floats.data] == [8, 8]
    assert floats.usage.prompt_tokens > 0
    assert upstream.last.json["dimensions"] == 8
    # The SDK asks for base64 by default and decodes it itself.
    default = client.embeddings.create(model="embed", input="one", dimensions=8)
    assert default.data[0].embedding == pytest.approx(floats.data[0].embedding, abs=1e-6)


def test_embeddings_base64_wire(mesh):
    response = httpx.post(
        f"{mesh.base_url}/embeddings",
        headers={"Authorization": f"Bearer {mesh.api_key}"},
        json={"model": "echo", "input": "x", "encoding_format": "base64", "dimensions": 4},
    )
    assert response.status_code == 200
    raw = base64.b64decode(response.json()["data"][0]["embedding"])
    assert len(struct.unpack("<4f", raw)) == 4


def test_models_lists_only_allowed_routes(mesh, client):
    assert {m.id for m in client.models.list()} >= {"echo", "gpt", "failover"}
    narrow = openai.OpenAI(base_url=mesh.base_url, api_key=mesh.key_for("narrow"), max_retries=0)
    assert [m.id for m in narrow.models.list()] == ["echo"]
    with pytest.raises(openai.PermissionDeniedError) as denied:
        narrow.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "x"}])
    assert denied.value.body["code"] == "permission_denied"


def test_failover_to_healthy_target(client):
    raw = client.chat.completions.with_raw_response.create(model="failover", messages=[{"role": "user", "content": "hello"}])
    assert raw.parse().choices[0].message.content == "Echo: hello"
    assert raw.headers["x-mesh-attempts"] == "3"
    assert raw.headers["x-mesh-model"] == "gpt-4o-mini"
    assert raw.headers["x-mesh-fallback-reason"].startswith("fake:")


def test_failover_in_stream_before_first_chunk(client):
    chunks = list(client.chat.completions.create(model="failover", messages=[{"role": "user", "content": "yo"}], stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Echo: yo"


@pytest.mark.parametrize(
    ("route", "exception", "status"),
    [("flaky", openai.InternalServerError, 503), ("limited", openai.RateLimitError, 429)],
)
def test_upstream_errors_keep_their_meaning(client, route, exception, status):
    with pytest.raises(exception) as caught:
        client.chat.completions.create(model=route, messages=[{"role": "user", "content": "x"}])
    assert caught.value.status_code == status
    if status == 429:
        assert caught.value.response.headers["retry-after"] == "7"
    assert "sk-upstream-secret-123" not in caught.value.response.text


def test_request_log_records_every_call(mesh, client):
    raw = client.chat.completions.with_raw_response.create(model="echo", messages=[{"role": "user", "content": "log me"}])
    mesh.flush_logs()
    entry = mesh.runtime.stores.request_log.get(raw.headers["x-mesh-request-id"])
    assert entry is not None
    assert (entry.app, entry.route, entry.provider, entry.model, entry.status) == ("test", "echo", "echo", "echo-1", 200)
    usage = raw.parse().usage
    assert (entry.prompt_tokens, entry.completion_tokens) == (usage.prompt_tokens, usage.completion_tokens)
    assert entry.latency_ms >= entry.overhead_ms >= 0


def test_request_tags_steer_routing_conditions(client):
    hello = [{"role": "user", "content": "hi"}]
    gold = client.chat.completions.with_raw_response.create(model="tiered", messages=hello, extra_headers={"x-mesh-tags": "tier=gold, team=cx"})
    assert gold.headers["x-mesh-model"] == "echo-gold"
    by_metadata = client.chat.completions.with_raw_response.create(model="tiered", messages=hello, metadata={"tier": "gold"})
    assert by_metadata.headers["x-mesh-model"] == "echo-gold"
    plain = client.chat.completions.with_raw_response.create(model="tiered", messages=hello)
    assert plain.headers["x-mesh-model"] == "echo-1"
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="tiered", messages=hello, extra_headers={"x-mesh-tags": "no-equals-sign"})
    assert bad.value.body["param"] == "x-mesh-tags"
