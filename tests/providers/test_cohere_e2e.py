"""End to end: the official openai SDK -> a real mesh server -> the cohere provider -> the Cohere v2 fake."""

from __future__ import annotations

import json

import openai
import pytest

from tests.fakes.cohere_upstream import CohereUpstream
from tests.harness import serve_mesh

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
    return openai.OpenAI(base_url=mesh.base_url, api_key=mesh.api_key, max_retries=0)


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
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == \
        "Hello from command-a-03-2025! You said: stream please"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_tools_round_trip(client, upstream) -> None:  # type: ignore[no-untyped-def]
    first = client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "weather in Paris?"}],
                                           tools=TOOLS, tool_choice={"type": "function", "function": {"name": "get_weather"}})
    assert upstream.requests[-1].body["tool_choice"] == "REQUIRED"
    message = first.choices[0].message
    call = message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris"}
    second = client.chat.completions.create(model="chat", tools=TOOLS, messages=[
        {"role": "user", "content": "weather in Paris?"},
        {"role": "assistant", "content": message.content, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "19C"},
    ])
    assert second.choices[0].message.content == f"Tool results: {call.id}=19C"


def test_streamed_tool_call(client) -> None:  # type: ignore[no-untyped-def]
    chunks = list(client.chat.completions.create(
        model="chat", messages=[{"role": "user", "content": "weather?"}], tools=TOOLS, stream=True))
    deltas = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or []]
    assert deltas[0].function.name == "get_weather" and deltas[0].id
    assert json.loads("".join(d.function.arguments or "" for d in deltas)) == {"city": "Paris"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]


def test_embeddings(client, upstream) -> None:  # type: ignore[no-untyped-def]
    floats = client.embeddings.create(model="embed", input=["one", "two"], encoding_format="float", dimensions=256)
    assert [len(d.embedding) for d in floats.data] == [256, 256]
    assert upstream.requests[-1].body["output_dimension"] == 256
    default = client.embeddings.create(model="embed", input="one", dimensions=256)
    assert default.data[0].embedding == pytest.approx(floats.data[0].embedding, abs=1e-6)


def test_errors_keep_their_meaning(client) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model="limited", messages=[{"role": "user", "content": "x"}])
    assert limited.value.response.headers["retry-after"] == "11"
    with pytest.raises(openai.BadRequestError) as too_long:
        client.chat.completions.create(model="too-long", messages=[{"role": "user", "content": "x"}])
    assert too_long.value.body["code"] == "context_length_exceeded"
    with pytest.raises(openai.BadRequestError) as blocked:
        client.chat.completions.create(model="blocked", messages=[{"role": "user", "content": "x"}])
    assert blocked.value.body["code"] == "content_policy_violation"
    for error in (limited, too_long, blocked):
        assert KEY not in error.value.response.text


def test_cut_stream_is_an_explicit_error(client) -> None:  # type: ignore[no-untyped-def]
    stream = client.chat.completions.create(model="cut", messages=[{"role": "user", "content": "a b c d e f g h"}],
                                            stream=True)
    received = []
    with pytest.raises(openai.APIError):
        for chunk in stream:
            received.append(chunk)
    assert any(c.choices and c.choices[0].delta.content for c in received)
