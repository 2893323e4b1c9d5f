"""Bedrock provider driven through real boto3 against the loopback Bedrock fake."""

from __future__ import annotations

import base64
import json
import math

import pytest

from llm_mesh.config.schema import ProviderConfig
from llm_mesh.errors import (
    ContextLengthExceeded,
    InvalidRequest,
    RateLimited,
    UpstreamError,
    UpstreamUnavailable,
)
from llm_mesh.providers.bedrock.provider import BedrockProvider
from llm_mesh.secrets import EnvSecretResolver
from llm_mesh.wire.openai_chat import ChatCompletionRequest
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest
from tests.fakes.bedrock_upstream import Behaviour, start_fake_bedrock

CLAUDE = "anthropic.claude-3-5-sonnet-20240620-v1:0"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look something up",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
        },
    }
]
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfakeimage").decode()


@pytest.fixture
def aws_env(monkeypatch):
    """Dummy credentials for the default chain; nothing reaches real AWS."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDMESHTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "mesh-test-secret")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")


@pytest.fixture
def fake(aws_env):
    with start_fake_bedrock() as upstream:
        yield upstream


@pytest.fixture
async def provider(fake):
    config = ProviderConfig(
        kind="bedrock",
        options={"region": "us-east-1", "endpoint_url": fake.url, "max_pool_connections": 4, "read_timeout": 10},
    )
    instance = BedrockProvider("bedrock", config, EnvSecretResolver({}))
    yield instance
    await instance.aclose()


def chat(content="hello there", model=CLAUDE, **extra) -> ChatCompletionRequest:
    messages = extra.pop("messages", None) or [{"role": "user", "content": content}]
    return ChatCompletionRequest.model_validate({"model": model, "messages": messages, **extra})


async def collect(provider, request):
    return [chunk async for chunk in provider.chat_stream(request)]


# ------------------------------------------------------------------ chat
async def test_chat_sends_converse_and_maps_response(provider, fake):
    request = chat(
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "hello there"}, {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]},
        ],
        max_tokens=50,
        temperature=0.3,
        top_p=0.9,
        stop="END",
        seed=42,
    )
    result = await provider.chat(request)
    sent = fake.requests[-1]
    assert sent.path == f"/model/{CLAUDE.replace(':', '%3A')}/converse" or sent.path == f"/model/{CLAUDE}/converse"
    assert sent.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDMESHTEST/")
    body = sent.json()
    assert body["system"] == [{"text": "Be brief."}]
    assert body["inferenceConfig"] == {"maxTokens": 50, "temperature": 0.3, "topP": 0.9, "stopSequences": ["END"]}
    image = body["messages"][0]["content"][1]["image"]
    assert image["format"] == "png" and base64.b64decode(image["source"]["bytes"]) == base64.b64decode(PNG)
    assert "seed" not in json.dumps(body)
    assert result.choices[0].message.content == "Echo: hello there"
    assert result.choices[0].finish_reason == "stop"
    assert result.model == CLAUDE
    assert result.id.startswith("chatcmpl-")
    assert result.usage.prompt_tokens == 4 and result.usage.completion_tokens == 3 and result.usage.total_tokens == 7


async def test_chat_cached_tokens_and_length(provider, fake):
    fake.queue(Behaviour(cache_read=10))
    result = await provider.chat(chat("one two three four five", max_tokens=2))
    assert result.choices[0].finish_reason == "length"
    assert result.choices[0].message.content == "Echo: one"
    assert result.usage.prompt_tokens == 5 + 10
    assert result.usage.prompt_tokens_details.cached_tokens == 10


async def test_guardrail_stop_is_content_filter(provider):
    result = await provider.chat(chat("bad words [filter]"))
    assert result.choices[0].finish_reason == "content_filter"


async def test_tool_call_round_trip(provider, fake):
    first = await provider.chat(chat("weather in Paris", tools=TOOLS, tool_choice="required"))
    body = fake.requests[-1].json()
    assert body["toolConfig"]["toolChoice"] == {"any": {}}
    assert body["toolConfig"]["tools"][0]["toolSpec"] == {
        "name": "lookup",
        "description": "Look something up",
        "inputSchema": {"json": TOOLS[0]["function"]["parameters"]},
    }
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "lookup" and json.loads(call.function.arguments) == {"query": "weather in Paris"}

    second = await provider.chat(
        chat(
            messages=[
                {"role": "user", "content": "weather in Paris"},
                {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
                {"role": "tool", "tool_call_id": call.id, "content": "sunny 21C"},
            ],
            tools=TOOLS,
        )
    )
    body = fake.requests[-1].json()
    assert body["messages"][1]["content"][0]["toolUse"] == {
        "toolUseId": call.id,
        "name": "lookup",
        "input": {"query": "weather in Paris"},
    }
    assert body["messages"][2] == {
        "role": "user",
        "content": [{"toolResult": {"toolUseId": call.id, "content": [{"text": "sunny 21C"}]}}],
    }
    assert second.choices[0].message.content == "Tool said: sunny 21C"
    assert second.choices[0].finish_reason == "stop"


async def test_named_tool_choice(provider, fake):
    await provider.chat(chat("x", tools=TOOLS, tool_choice={"type": "function", "function": {"name": "lookup"}}))
    assert fake.requests[-1].json()["toolConfig"]["toolChoice"] == {"tool": {"name": "lookup"}}


async def test_http_image_url_rejected_before_any_call(provider, fake):
    request = chat(messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}])
    with pytest.raises(InvalidRequest):
        await provider.chat(request)
    assert fake.requests == []


# ------------------------------------------------------------------ stream
async def test_stream_text(provider, fake):
    chunks = await collect(provider, chat("hello there"))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: hello there"
    finish = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finish) == 1 and finish[0].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 3
    assert fake.requests[-1].path.endswith("/converse-stream")


async def test_stream_tool_call_deltas(provider):
    chunks = await collect(provider, chat("find cats", tools=TOOLS, tool_choice="auto"))
    deltas = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert deltas[0].id and deltas[0].type == "function" and deltas[0].function.name == "lookup"
    assert all(d.index == 0 for d in deltas)
    arguments = "".join(d.function.arguments or "" for d in deltas)
    assert json.loads(arguments) == {"query": "find cats"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]
    assert chunks[-1].usage is not None


async def test_stream_exception_event_mid_stream(provider):
    received = []
    with pytest.raises(UpstreamError) as info:
        async for chunk in provider.chat_stream(chat("a b c [stream_error]")):
            received.append(chunk)
    assert info.value.code == "model_stream_error"
    assert received  # content arrived before the exception event


async def test_stream_throttling_event_is_rate_limited(provider):
    with pytest.raises(RateLimited) as info:
        await collect(provider, chat("a b c [stream_throttle]"))
    assert info.value.headers.get("Retry-After")


@pytest.mark.parametrize("marker", ["[cut]", "[cut_mid_frame]"])
async def test_stream_cut_is_detected(provider, marker):
    with pytest.raises(UpstreamError) as info:
        await collect(provider, chat(f"one two three four five {marker}"))
    assert info.value.code == "stream_cut"


async def test_stream_early_close_releases_thread(provider):
    stream = provider.chat_stream(chat("one two three four five six seven"))
    first = await stream.__anext__()
    assert first.choices[0].delta.role == "assistant"
    await stream.aclose()
    # The provider still works afterwards (its pool is not stuck on the abandoned stream).
    result = await provider.chat(chat("again"))
    assert result.choices[0].message.content == "Echo: again"


# ------------------------------------------------------------------ errors
async def test_throttling_is_429_with_retry_after(provider):
    with pytest.raises(RateLimited) as info:
        await provider.chat(chat("x [throttle]"))
    assert info.value.status == 429 and info.value.headers["Retry-After"] == "1"


async def test_throttling_passes_upstream_retry_after(provider, fake):
    fake.queue(Behaviour(error="throttle", retry_after="7"))
    with pytest.raises(RateLimited) as info:
        await provider.chat(chat("x"))
    assert info.value.headers["Retry-After"] == "7"


async def test_too_long_is_context_length(provider):
    with pytest.raises(ContextLengthExceeded):
        await provider.chat(chat("x [context]"))


async def test_other_validation_is_invalid_request(provider):
    with pytest.raises(InvalidRequest) as info:
        await provider.chat(chat("x [validation]"))
    assert not isinstance(info.value, ContextLengthExceeded)


async def test_access_denied_is_upstream_auth_error(provider):
    with pytest.raises(UpstreamError) as info:
        await provider.chat(chat("x [denied]"))
    assert info.value.code == "upstream_auth_failed" and info.value.status == 502
    assert "AKIDMESHTEST" not in info.value.message


async def test_not_found_and_unavailable(provider):
    with pytest.raises(InvalidRequest) as info:
        await provider.chat(chat("x [notfound]"))
    assert info.value.code == "upstream_model_not_found"
    with pytest.raises(UpstreamUnavailable):
        await provider.chat(chat("x [unavailable]"))
    with pytest.raises(UpstreamUnavailable):
        await provider.chat(chat("x [not_ready]"))


async def test_errors_before_stream_starts(provider):
    with pytest.raises(RateLimited):
        await collect(provider, chat("x [throttle]"))


async def test_connection_refused_is_unavailable(aws_env):
    config = ProviderConfig(kind="bedrock", options={"region": "us-east-1", "endpoint_url": "http://127.0.0.1:9"})
    provider = BedrockProvider("bedrock", config, EnvSecretResolver({}))
    with pytest.raises(UpstreamUnavailable):
        await provider.chat(chat("x"))
    await provider.aclose()


# ------------------------------------------------------------------ embeddings
async def test_titan_embeddings_one_call_per_input(provider, fake):
    response = await provider.embed(
        EmbeddingsRequest(model="amazon.titan-embed-text-v2:0", input=["alpha beta", "gamma"], dimensions=256)
    )
    calls = [r for r in fake.requests if r.path.endswith("/invoke")]
    assert len(calls) == 2
    assert sorted(c.json()["inputText"] for c in calls) == ["alpha beta", "gamma"]
    assert all(c.json()["dimensions"] == 256 and c.json()["normalize"] is True for c in calls)
    assert [d.index for d in response.data] == [0, 1]
    assert len(response.data[0].embedding) == 256
    assert math.isclose(sum(v * v for v in response.data[0].embedding), 1.0, rel_tol=1e-6)
    assert response.usage.prompt_tokens == 3


async def test_cohere_embeddings_batch(provider, fake):
    texts = [f"text {i}" for i in range(100)]
    response = await provider.embed(EmbeddingsRequest(model="cohere.embed-english-v3", input=texts))
    calls = [r.json() for r in fake.requests if r.path.endswith("/invoke")]
    assert [len(c["texts"]) for c in calls] == [96, 4]
    assert all(c["input_type"] == "search_document" for c in calls)
    assert len(response.data) == 100 and response.data[99].index == 99
    assert response.usage.prompt_tokens == 200


async def test_embeddings_reject_chat_model(provider):
    with pytest.raises(InvalidRequest):
        await provider.embed(EmbeddingsRequest(model=CLAUDE, input="x"))


def test_capabilities_by_family(fake):
    config = ProviderConfig(kind="bedrock", options={"region": "us-east-1", "endpoint_url": fake.url})
    provider = BedrockProvider("bedrock", config, EnvSecretResolver({}))
    assert provider.capabilities("us.anthropic.claude-3-5-sonnet-20240620-v1:0").tools
    titan = provider.capabilities("amazon.titan-text-express-v1")
    assert not titan.tools and not titan.vision
    assert provider.capabilities("amazon.titan-embed-text-v2:0").embeddings
    assert provider.capabilities("amazon.nova-pro-v1:0").vision
    assert not provider.capabilities("amazon.nova-micro-v1:0").vision
    assert not provider.capabilities("mistral.mistral-7b-instruct-v0:2").tools
