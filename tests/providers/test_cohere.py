"""Cohere v2 provider against the loopback fake of Cohere's wire format."""

from __future__ import annotations

import json
from typing import Any

import pytest
import pytest_asyncio

from llm_mesh.config.schema import ProviderConfig
from llm_mesh.errors import ContentPolicyViolation, ContextLengthExceeded, RateLimited, UpstreamError
from llm_mesh.providers.catalog import PROVIDER_KINDS, load_attribute
from llm_mesh.providers.cohere.provider import CohereProvider
from llm_mesh.secrets import EnvSecretResolver
from llm_mesh.wire.openai_chat import ChatCompletionRequest
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest
from tests.fakes.cohere_upstream import CohereUpstream

KEY = "co-test-key-77aa55"
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}


def chat(model: str = "command-a-03-2025", **kwargs: Any) -> ChatCompletionRequest:
    body = {"model": model, "messages": [{"role": "system", "content": "Be brief."},
                                         {"role": "user", "content": "hello there"}]}
    body.update(kwargs)
    return ChatCompletionRequest.model_validate(body)


async def collect(provider: CohereProvider, request: ChatCompletionRequest) -> list[Any]:
    return [chunk async for chunk in provider.chat_stream(request)]


@pytest.fixture
def fake():  # type: ignore[no-untyped-def]
    with CohereUpstream(api_key=KEY) as upstream:
        yield upstream


@pytest_asyncio.fixture(loop_scope="function")
async def provider(fake: CohereUpstream):  # type: ignore[no-untyped-def]
    config = ProviderConfig(kind="cohere", base_url=fake.base_url, api_key={"env": "CO_KEY"},
                            options={"safety_mode": "CONTEXTUAL"})
    p = CohereProvider("co", config, EnvSecretResolver({"CO_KEY": KEY}))
    yield p
    await p.aclose()


def test_registered_in_catalog() -> None:
    assert load_attribute(PROVIDER_KINDS["cohere"].factory) is CohereProvider
    with pytest.raises(ValueError):
        ProviderConfig(kind="cohere", options={"embedding_input_type": "images"})


async def test_chat(provider: CohereProvider, fake: CohereUpstream) -> None:
    out = await provider.chat(chat(temperature=0.2, top_p=0.5, stop=["###"]))
    sent = fake.requests[-1]
    assert sent.path == "/v2/chat" and sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body == {
        "model": "command-a-03-2025",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello there"}],
        "safety_mode": "CONTEXTUAL", "stop_sequences": ["###"], "temperature": 0.2, "p": 0.5,
    }
    assert out.choices[0].message.content == "Hello from command-a-03-2025! You said: hello there"
    assert out.choices[0].finish_reason == "stop"
    # billed units, not the raw token counts that include Cohere's prompt template
    assert (out.usage.prompt_tokens, out.usage.completion_tokens) == (4, 7)


async def test_length_and_cached_usage(provider: CohereProvider) -> None:
    out = await provider.chat(chat("command-r-plus-cached", max_tokens=3))
    assert out.choices[0].finish_reason == "length" and out.choices[0].message.content == "Hello from command-r-plus-cached!"
    assert out.usage.prompt_tokens_details.cached_tokens == 64


async def test_stream(provider: CohereProvider, fake: CohereUpstream) -> None:
    chunks = await collect(provider, chat())
    assert fake.requests[-1].body["stream"] is True
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == \
        "Hello from command-a-03-2025! You said: hello there"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 11
    assert len({c.id for c in chunks}) == 1


async def test_tools_chat_and_follow_up(provider: CohereProvider, fake: CohereUpstream) -> None:
    out = await provider.chat(chat(tools=[WEATHER, TIME], tool_choice="required"))
    sent = fake.requests[-1].body
    assert sent["tool_choice"] == "REQUIRED" and sent["tools"][0] == WEATHER
    choice = out.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "I will call a tool to answer this."  # the tool_plan
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris"}

    answer = await provider.chat(chat(tools=[WEATHER, TIME], messages=[
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": choice.message.content, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "18C"},
    ]))
    sent = fake.requests[-1].body
    assert sent["messages"][1]["tool_plan"] == "I will call a tool to answer this."
    assert sent["messages"][2] == {"role": "tool", "tool_call_id": call.id, "content": "18C"}
    assert answer.choices[0].message.content == f"Tool results: {call.id}=18C"


async def test_stream_parallel_tool_calls(provider: CohereProvider) -> None:
    chunks = await collect(provider, chat("command-a-parallel", tools=[WEATHER, TIME]))
    plan = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert plan.strip() == "I will call a tool to answer this."
    starts = [d for c in chunks if c.choices for d in c.choices[0].delta.tool_calls or [] if d.id]
    assert [(d.index, d.function.name, d.type) for d in starts] == [(0, "get_weather", "function"), (1, "get_time", "function")]
    arguments: dict[int, str] = {}
    for c in chunks:
        for d in (c.choices[0].delta.tool_calls or []) if c.choices else []:
            arguments[d.index] = arguments.get(d.index, "") + (d.function.arguments or "")
    assert json.loads(arguments[0]) == {"city": "Paris"} and json.loads(arguments[1]) == {}
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]


async def test_rate_limit(provider: CohereProvider) -> None:
    with pytest.raises(RateLimited) as info:
        await provider.chat(chat("command-rate-limit"))
    assert info.value.headers == {"Retry-After": "11"}
    with pytest.raises(RateLimited):
        await collect(provider, chat("command-rate-limit"))


async def test_context_length(provider: CohereProvider) -> None:
    with pytest.raises(ContextLengthExceeded, match="too many tokens"):
        await provider.chat(chat("command-too-long"))


async def test_content_block(provider: CohereProvider) -> None:
    with pytest.raises(ContentPolicyViolation):
        await provider.chat(chat("command-blocked"))
    with pytest.raises(ContentPolicyViolation):
        await collect(provider, chat("command-blocked"))


async def test_cut_stream(provider: CohereProvider) -> None:
    seen: list[Any] = []
    with pytest.raises(UpstreamError) as info:
        async for chunk in provider.chat_stream(chat("command-cut")):
            seen.append(chunk)
    assert info.value.code == "stream_cut"
    assert any(c.choices and c.choices[0].delta.content for c in seen)


async def test_dropped_connection_is_a_cut(provider: CohereProvider) -> None:
    with pytest.raises(UpstreamError) as info:
        await collect(provider, chat("command-abort"))
    assert info.value.code == "stream_cut"


async def test_error_finish(provider: CohereProvider) -> None:
    with pytest.raises(UpstreamError) as info:
        await provider.chat(chat("command-error-finish"))
    assert info.value.code != "stream_cut"
    with pytest.raises(UpstreamError) as info:
        await collect(provider, chat("command-error-finish"))
    assert "internal generation failure" in info.value.message


async def test_bad_key(fake: CohereUpstream) -> None:
    config = ProviderConfig(kind="cohere", base_url=fake.base_url, api_key={"env": "K"})
    p = CohereProvider("co", config, EnvSecretResolver({"K": "wrong-cohere-secret"}))
    try:
        with pytest.raises(UpstreamError) as info:
            await p.chat(chat())
        assert info.value.code == "upstream_auth_failed"
        assert "wrong-cohere-secret" not in json.dumps(info.value.to_body())
    finally:
        await p.aclose()


async def test_embeddings(provider: CohereProvider, fake: CohereUpstream) -> None:
    out = await provider.embed(EmbeddingsRequest(model="embed-v4.0", input=["alpha beta", "gamma"], dimensions=256))
    sent = fake.requests[-1]
    assert sent.path == "/v2/embed"
    assert sent.body == {"model": "embed-v4.0", "texts": ["alpha beta", "gamma"], "input_type": "search_document",
                         "embedding_types": ["float"], "output_dimension": 256}
    assert [len(d.embedding) for d in out.data] == [256, 256] and out.usage.prompt_tokens == 3
    with pytest.raises(RateLimited) as info:
        await provider.embed(EmbeddingsRequest(model="embed-rate-limit", input="x"))
    assert info.value.headers == {"Retry-After": "4"}


def test_capabilities(provider: CohereProvider) -> None:
    caps = provider.capabilities("command-a-03-2025")
    assert caps.tools and caps.json_schema and not caps.vision and caps.context_window == 256_000
    assert provider.capabilities("command-a-vision-07-2025").vision
    emb = provider.capabilities("embed-v4.0")
    assert emb.embeddings and not emb.chat and emb.context_window == 128_000
