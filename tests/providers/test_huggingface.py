"""Hugging Face TGI / TEI provider against a loopback fake speaking TGI's wire format."""

from __future__ import annotations

import pytest

from llm_mesh.config.schema import ProviderConfig
from llm_mesh.errors import ContextLengthExceeded, InvalidRequest, RateLimited, UpstreamError, UpstreamUnavailable
from llm_mesh.providers.huggingface.provider import HuggingFaceProvider
from llm_mesh.secrets import EnvSecretResolver
from llm_mesh.wire.openai_chat import ChatCompletionRequest
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest
from tests.fakes.azure_openai_upstream import json_reply, sse_reply
from tests.fakes.huggingface_upstream import OVERFLOW, FakeTGI, tgi_chunks, tgi_error

TOKEN = "hf_abcdefghijklmnop"
TOOL = {"id": "0", "name": "get_weather", "arguments": '{"location":"Paris"}'}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]


@pytest.fixture
def fake():
    with FakeTGI() as upstream:
        upstream.serve(tool_call=TOOL)
        yield upstream


def make(fake, token=True, **options):
    config = ProviderConfig(kind="huggingface", base_url=fake.url, api_key={"env": "HF_TOKEN"} if token else None,
                            options=options)
    return HuggingFaceProvider("hf", config, EnvSecretResolver({"HF_TOKEN": TOKEN}))


def request(**extra):
    return ChatCompletionRequest.model_validate({"model": "tgi", "messages": [{"role": "user", "content": "hi"}],
                                                 **extra})


async def test_chat_maps_eos_token_and_sends_token(fake):
    provider = make(fake)
    result = await provider.chat(request())
    assert fake.last.path == "/v1/chat/completions" and fake.last.headers["authorization"] == f"Bearer {TOKEN}"
    assert result.choices[0].finish_reason == "stop"
    assert result.choices[0].message.content == "Hello from TGI"
    await provider.aclose()


async def test_self_hosted_without_token(fake):
    provider = make(fake, token=False)
    await provider.chat(request())
    assert "authorization" not in fake.last.headers
    await provider.aclose()


async def test_tools_and_streams(fake):
    provider = make(fake)
    result = await provider.chat(request(tools=TOOLS, tool_choice="required"))
    assert result.choices[0].message.tool_calls[0].function.name == "get_weather"
    assert fake.last.json["tool_choice"] == "required"
    chunks = [c async for c in provider.chat_stream(request(stream=True))]
    assert fake.last.json["stream_options"] == {"include_usage": True}
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 23
    tool_chunks = [c async for c in provider.chat_stream(request(stream=True, tools=TOOLS))]
    calls = [tc for c in tool_chunks if c.choices for tc in c.choices[0].delta.tool_calls or []]
    assert calls[0].type == "function" and "".join(t.function.arguments or "" for t in calls) == TOOL["arguments"]
    await provider.aclose()


async def test_stream_error_event_and_cut(fake):
    frames = tgi_chunks()
    fake.on("/v1/chat/completions",
            sse_reply(frames[:1] + [tgi_error("Request failed during generation: CUDA out of memory", "generation")],
                      done=False),
            sse_reply(frames[:1] + [tgi_error("Model is overloaded", "overloaded")], done=False),
            sse_reply(frames, cut_after=2, end="clean"))
    provider = make(fake)
    with pytest.raises(UpstreamError, match="generation"):
        async for _ in provider.chat_stream(request(stream=True)):
            pass
    with pytest.raises(UpstreamUnavailable):
        async for _ in provider.chat_stream(request(stream=True)):
            pass
    with pytest.raises(UpstreamError) as caught:
        async for _ in provider.chat_stream(request(stream=True)):
            pass
    assert caught.value.code == "stream_cut"
    await provider.aclose()


async def test_http_errors(fake):
    fake.on("/v1/chat/completions",
            json_reply(tgi_error(OVERFLOW, "validation"), 422),
            json_reply(tgi_error("Model is overloaded", "overloaded"), 429),
            json_reply(tgi_error("Input validation error: `temperature` must be strictly positive", "validation"), 422),
            json_reply(tgi_error("Request failed during generation", "generation"), 424))
    provider = make(fake)
    with pytest.raises(ContextLengthExceeded):
        await provider.chat(request())
    with pytest.raises(RateLimited):
        await provider.chat(request())
    with pytest.raises(InvalidRequest, match="temperature"):
        await provider.chat(request())
    with pytest.raises(UpstreamError, match="424"):
        await provider.chat(request())
    await provider.aclose()


async def test_tei_embed(fake):
    provider = make(fake, embeddings_api="tei")
    result = await provider.embed(EmbeddingsRequest(model="bge", input=["a", "b"]))
    assert fake.last.path == "/embed"
    assert fake.last.json == {"inputs": ["a", "b"], "normalize": True, "truncate": False}
    assert [d.embedding for d in result.data] == [[0.5, 0.25, 0.125]] * 2 and result.model == "bge"
    await provider.aclose()


async def test_openai_embeddings(fake):
    fake.on("/v1/embeddings", json_reply({"object": "list", "model": "bge", "usage": {"prompt_tokens": 2,
             "total_tokens": 2}, "data": [{"object": "embedding", "index": 0, "embedding": [1.0, 0.0]}]}))
    provider = make(fake)
    result = await provider.embed(EmbeddingsRequest(model="bge", input="a"))
    assert fake.last.path == "/v1/embeddings" and fake.last.json["encoding_format"] == "float"
    assert result.data[0].embedding == [1.0, 0.0]
    await provider.aclose()
