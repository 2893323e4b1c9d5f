"""End to end: the official openai SDK -> the mesh (real HTTP) -> boto3 -> the Bedrock fake."""

from __future__ import annotations

import json

import openai
import pytest

from tests.fakes.bedrock_upstream import start_fake_bedrock
from tests.harness import serve_mesh
from tests.providers.e2e_helpers import (
    chunks_before_error,
    fake_aws_credentials,
    finish_reasons,
    openai_client,
    stream_text,
    streamed_arguments,
    tool_call_deltas,
    tool_round_trip,
)

TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                                           "parameters": {"type": "object", "properties": {"query": {"type": "string"}}}}}]


@pytest.fixture(scope="module")
def upstream():
    with fake_aws_credentials(access_key_id="AKIDMESHE2E"), start_fake_bedrock() as fake:
        yield fake


@pytest.fixture(scope="module")
def mesh(upstream):
    config = {
        "providers": {
            "bedrock": {
                "kind": "bedrock",
                "options": {"region": "us-east-1", "endpoint_url": upstream.url, "read_timeout": 10},
            }
        },
        "routes": {
            "claude": {"provider": "bedrock", "model": "us.anthropic.claude-3-5-sonnet-20240620-v1:0"},
            "titan-embed": {"provider": "bedrock", "model": "amazon.titan-embed-text-v2:0"},
            "cohere-embed": {"provider": "bedrock", "model": "cohere.embed-english-v3"},
        },
    }
    with serve_mesh(config) as running:
        yield running


@pytest.fixture()
def client(mesh):
    return openai_client(mesh)


def test_chat(client, upstream):
    completion = client.chat.completions.create(
        model="claude", messages=[{"role": "system", "content": "terse"}, {"role": "user", "content": "hi mesh"}])
    assert completion.choices[0].message.content == "Echo: hi mesh"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.prompt_tokens == 3 and completion.usage.completion_tokens == 3
    sent = upstream.requests[-1]
    assert sent.path.startswith("/model/us.anthropic.claude-3-5-sonnet") and sent.path.endswith("/converse")
    assert sent.json()["system"] == [{"text": "terse"}]
    assert sent.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDMESHE2E/")


def test_stream_with_usage(client):
    stream = client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "stream me"}],
                                            stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    assert stream_text(chunks) == "Echo: stream me"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3


def test_tools_round_trip(client):
    first, call, second = tool_round_trip(client, "claude", TOOLS, "Paris", "22C", tool_choice="required")
    assert first.choices[0].finish_reason == "tool_calls" and json.loads(call.function.arguments) == {"query": "Paris"}
    assert second.choices[0].message.content == "Tool said: 22C"


def test_streamed_tool_call(client):
    stream = client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "Rome"}],
                                            tools=TOOLS, tool_choice={"type": "function", "function": {"name": "get_weather"}},
                                            stream=True)
    chunks = list(stream)
    deltas = tool_call_deltas(chunks)
    assert deltas[0].function.name == "get_weather"
    assert streamed_arguments(deltas) == {"query": "Rome"}
    assert finish_reasons(chunks) == ["tool_calls"]


def test_throttling_is_429_with_retry_after(client):
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "x [throttle]"}])
    assert info.value.response.headers.get("retry-after")


def test_context_error_is_400_context_length(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "x [context]"}])
    assert info.value.code == "context_length_exceeded"


def test_stream_cut_midway_is_an_explicit_error(client):
    stream = client.chat.completions.create(model="claude", stream=True,
                                            messages=[{"role": "user", "content": "a b c d e f g [cut]"}])
    received = chunks_before_error(stream)
    assert received, "some chunks reached the client before the cut"


def test_titan_and_cohere_embeddings(client, upstream):
    titan = client.embeddings.create(model="titan-embed", input=["one two", "three"], encoding_format="float", dimensions=256)
    assert [len(d.embedding) for d in titan.data] == [256, 256]
    assert titan.usage.prompt_tokens == 3
    cohere = client.embeddings.create(model="cohere-embed", input=["alpha", "beta"])  # base64 on the wire
    assert [len(d.embedding) for d in cohere.data] == [1024, 1024]
    assert upstream.requests[-1].json() == {"texts": ["alpha", "beta"], "input_type": "search_document"}
