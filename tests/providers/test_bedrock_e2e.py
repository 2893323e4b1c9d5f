"""End to end: the official openai SDK -> the mesh (real HTTP) -> boto3 -> the Bedrock fake."""

from __future__ import annotations

import json

import openai
import pytest

from tests.fakes.bedrock_upstream import start_fake_bedrock
from tests.harness import serve_mesh

TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                                           "parameters": {"type": "object", "properties": {"query": {"type": "string"}}}}}]
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIDMESHE2E",
    "AWS_SECRET_ACCESS_KEY": "mesh-e2e-secret",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
}


@pytest.fixture(scope="module")
def upstream():
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK", "AWS_DEFAULT_PROFILE"):
            patch.delenv(name, raising=False)
        for name, value in AWS_ENV.items():
            patch.setenv(name, value)
        with start_fake_bedrock() as fake:
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
    return openai.OpenAI(base_url=mesh.base_url, api_key=mesh.api_key, max_retries=0)


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
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Echo: stream me"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3


def test_tools_round_trip(client):
    first = client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "Paris"}],
                                           tools=TOOLS, tool_choice="required")
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls" and json.loads(call.function.arguments) == {"query": "Paris"}
    second = client.chat.completions.create(model="claude", tools=TOOLS, messages=[
        {"role": "user", "content": "Paris"},
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "22C"},
    ])
    assert second.choices[0].message.content == "Tool said: 22C"


def test_streamed_tool_call(client):
    stream = client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "Rome"}],
                                            tools=TOOLS, tool_choice={"type": "function", "function": {"name": "get_weather"}},
                                            stream=True)
    chunks = list(stream)
    deltas = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert deltas[0].function.name == "get_weather"
    assert json.loads("".join(d.function.arguments or "" for d in deltas)) == {"query": "Rome"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]


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
    received = []
    with pytest.raises(openai.APIError):
        for chunk in stream:
            received.append(chunk)
    assert received, "some chunks reached the client before the cut"


def test_titan_and_cohere_embeddings(client, upstream):
    titan = client.embeddings.create(model="titan-embed", input=["one two", "three"], encoding_format="float", dimensions=256)
    assert [len(d.embedding) for d in titan.data] == [256, 256]
    assert titan.usage.prompt_tokens == 3
    cohere = client.embeddings.create(model="cohere-embed", input=["alpha", "beta"])  # base64 on the wire
    assert [len(d.embedding) for d in cohere.data] == [1024, 1024]
    assert upstream.requests[-1].json() == {"texts": ["alpha", "beta"], "input_type": "search_document"}
