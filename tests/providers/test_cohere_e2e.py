"""End to end: the official openai SDK -> a real mesh server -> the cohere provider -> the Cohere v2 fake."""

from __future__ import annotations

import json

import pytest

from tests.fakes.cohere_upstream import CohereUpstream
from tests.harness import serve_mesh
from tests.providers.e2e_helpers import (
    assert_errors_keep_their_meaning,
    chunks_before_error,
    finish_reasons,
    openai_client,
    stream_text,
    streamed_arguments,
    tool_call_deltas,
    tool_round_trip,
)

KEY = "co-e2e-secret-4242"
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


@pytest.fixture(scope="module")
def upstream():  # type: ignore[no-untyped-def]
    with CohereUpstream(api_key=KEY) as fake:
        yield fake


@pytest.fixture(scope="module")
def mesh(upstream):  # type: ignore[no-untyped-def]
    config = {
        "providers": {"cohere": {"kind": "cohere", "base_url": upstream.base_url, "api_key": {"env": "CO_API_KEY"}}},
        "routes": {
            "chat": {"provider": "cohere", "model": "command-a-03-2025"},
            "embed": {"provider": "cohere", "model": "embed-v4.0"},
            "limited": {"provider": "cohere", "model": "command-rate-limit"},
            "too-long": {"provider": "cohere", "model": "command-too-long"},
            "blocked": {"provider": "cohere", "model": "command-blocked"},
            "cut": {"provider": "cohere", "model": "command-a-cut"},
        },
    }
    with serve_mesh(config, env={"CO_API_KEY": KEY}) as running:
        yield running


@pytest.fixture()
def client(mesh):  # type: ignore[no-untyped-def]
    return openai_client(mesh)


def test_chat(client, upstream) -> None:  # type: ignore[no-untyped-def]
    out = client.chat.completions.create(model="chat", messages=[
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi mesh"}], top_p=0.5)
    assert out.choices[0].message.content == "Hello from command-a-03-2025! You said: hi mesh"
    assert out.choices[0].finish_reason == "stop"
    assert out.usage.prompt_tokens == 4 and out.usage.completion_tokens == 7
    sent = upstream.requests[-1]
    assert sent.path == "/v2/chat" and sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body["p"] == 0.5 and sent.body["messages"][0] == {"role": "system", "content": "Be brief."}


def test_stream_with_usage(client) -> None:  # type: ignore[no-untyped-def]
    chunks = list(client.chat.completions.create(
        model="chat", messages=[{"role": "user", "content": "stream please"}], stream=True,
        stream_options={"include_usage": True}))
    assert stream_text(chunks) == "Hello from command-a-03-2025! You said: stream please"
    assert finish_reasons(chunks) == ["stop"]
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_tools_round_trip(client, upstream) -> None:  # type: ignore[no-untyped-def]
    first, call, second = tool_round_trip(
        client, "chat", TOOLS, "weather in Paris?", "19C",
        tool_choice={"type": "function", "function": {"name": "get_weather"}})
    assert upstream.requests[-2].body["tool_choice"] == "REQUIRED"
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris"}
    assert upstream.requests[-1].body["messages"][1]["tool_plan"] == first.choices[0].message.content
    assert second.choices[0].message.content == f"Tool results: {call.id}=19C"


def test_streamed_tool_call(client) -> None:  # type: ignore[no-untyped-def]
    chunks = list(client.chat.completions.create(
        model="chat", messages=[{"role": "user", "content": "weather?"}], tools=TOOLS, stream=True))
    deltas = tool_call_deltas(chunks)
    assert deltas[0].function.name == "get_weather" and deltas[0].id
    assert streamed_arguments(deltas) == {"city": "Paris"}
    assert finish_reasons(chunks) == ["tool_calls"]


def test_embeddings(client, upstream) -> None:  # type: ignore[no-untyped-def]
    floats = client.embeddings.create(model="embed", input=["one", "two"], encoding_format="float", dimensions=256)
    assert [len(d.embedding) for d in floats.data] == [256, 256]
    assert upstream.requests[-1].body["output_dimension"] == 256
    default = client.embeddings.create(model="embed", input="one", dimensions=256)
    assert default.data[0].embedding == pytest.approx(floats.data[0].embedding, abs=1e-6)


def test_errors_keep_their_meaning(client) -> None:  # type: ignore[no-untyped-def]
    assert_errors_keep_their_meaning(client, KEY, retry_after="11")


def test_cut_stream_is_an_explicit_error(client) -> None:  # type: ignore[no-untyped-def]
    stream = client.chat.completions.create(model="cut", messages=[{"role": "user", "content": "a b c d e f g h"}],
                                            stream=True)
    received = chunks_before_error(stream)
    assert any(c.choices and c.choices[0].delta.content for c in received)
