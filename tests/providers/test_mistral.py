"""Mistral provider against a scripted loopback upstream speaking Mistral's wire format."""

from __future__ import annotations

import pytest

from llm_mesh.config.schema import ProviderConfig
from llm_mesh.errors import ContextLengthExceeded, InvalidRequest, RateLimited, UpstreamError
from llm_mesh.providers.mistral.provider import MistralProvider
from llm_mesh.secrets import EnvSecretResolver
from llm_mesh.wire.openai_chat import ChatCompletionRequest
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest
from tests.fakes.azure_openai_upstream import ScriptedUpstream, json_reply, sse_reply

KEY = "mistral-key-123"
HEAD = {"id": "cmpl-e5cc70bb", "object": "chat.completion.chunk", "created": 1702256327, "model": "mistral-small-latest"}
TOOLS = [{"type": "function", "function": {"name": "retrieve_payment_status", "parameters": {"type": "object"}}}]


def completion(message, finish="stop"):
    return {"id": "cmpl-e5cc70bb", "object": "chat.completion", "model": "mistral-small-latest", "created": 1702256327,
            "usage": {"prompt_tokens": 16, "completion_tokens": 34, "total_tokens": 50},
            "choices": [{"index": 0, "message": message, "finish_reason": finish}]}


def chunk(delta, finish=None, usage=None):
    out = {**HEAD, "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}
    if usage:
        out["usage"] = usage
    return out


STREAM = [
    chunk({"role": "assistant", "content": ""}),
    chunk({"content": "Bon"}),
    chunk({"content": "jour"}),
    chunk({"content": ""}, "stop", {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}),
]


@pytest.fixture
def upstream():
    with ScriptedUpstream() as fake:
        yield fake


def make(upstream, **options):
    config = ProviderConfig(kind="mistral", base_url=upstream.url + "/v1", api_key={"env": "MISTRAL_KEY"},
                            options=options)
    return MistralProvider("mistral", config, EnvSecretResolver({"MISTRAL_KEY": KEY}))


def request(**extra):
    return ChatCompletionRequest.model_validate(
        {"model": "mistral-small-latest", "messages": [{"role": "developer", "content": "be brief"},
                                                        {"role": "user", "content": "hi", "name": "u1"}], **extra})


async def test_chat_renames_parameters_and_drops_unknown_fields(upstream):
    upstream.on("/v1/chat/completions", json_reply(completion({"role": "assistant", "content": "Bonjour",
                                                                "tool_calls": None, "prefix": False})))
    provider = make(upstream, safe_prompt=True)
    result = await provider.chat(request(seed=42, max_completion_tokens=64, user="u-1", logprobs=True,
                                         tools=TOOLS, tool_choice="required", parallel_tool_calls=False))
    sent = upstream.last
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    body = sent.json
    assert body["random_seed"] == 42 and "seed" not in body
    assert body["max_tokens"] == 64 and "max_completion_tokens" not in body
    assert body["tool_choice"] == "any"
    assert body["safe_prompt"] is True
    assert body["parallel_tool_calls"] is False
    assert "user" not in body and "logprobs" not in body
    assert body["messages"] == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    assert result.choices[0].message.content == "Bonjour"
    assert result.usage.total_tokens == 50
    await provider.aclose()


async def test_tool_calls_without_type_are_completed(upstream):
    upstream.on("/v1/chat/completions", json_reply(completion({"role": "assistant", "content": "", "tool_calls": [
        {"id": "D681PevKs", "function": {"name": "retrieve_payment_status", "arguments": '{"transaction_id": "T1001"}'},
         "index": 0}]}, "tool_calls")))
    provider = make(upstream)
    result = await provider.chat(request(tools=TOOLS))
    call = result.choices[0].message.tool_calls[0]
    assert (call.id, call.type, call.function.name) == ("D681PevKs", "function", "retrieve_payment_status")
    assert result.choices[0].finish_reason == "tool_calls"
    assert "safe_prompt" not in upstream.last.json
    await provider.aclose()


async def test_stream_moves_usage_to_a_final_chunk(upstream):
    upstream.on("/v1/chat/completions", sse_reply(STREAM))
    provider = make(upstream)
    chunks = [c async for c in provider.chat_stream(request(stream=True))]
    body = upstream.last.json
    assert body["stream"] is True and "stream_options" not in body
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Bonjour"
    assert chunks[-2].choices[0].finish_reason == "stop" and chunks[-2].usage is None
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 9
    await provider.aclose()


async def test_stream_tool_call_in_one_delta(upstream):
    upstream.on("/v1/chat/completions", sse_reply([
        chunk({"role": "assistant", "content": ""}),
        chunk({"tool_calls": [{"id": "abc123XYZ", "function": {"name": "retrieve_payment_status",
                                                                "arguments": '{"transaction_id": "T1"}'}, "index": 0}]},
              "tool_calls", {"prompt_tokens": 70, "completion_tokens": 20, "total_tokens": 90}),
    ]))
    provider = make(upstream)
    chunks = [c async for c in provider.chat_stream(request(stream=True, tools=TOOLS))]
    delta = chunks[1].choices[0].delta.tool_calls[0]
    assert (delta.index, delta.id, delta.type, delta.function.name) == (0, "abc123XYZ", "function",
                                                                         "retrieve_payment_status")
    assert chunks[1].choices[0].finish_reason == "tool_calls"
    assert chunks[-1].usage.total_tokens == 90
    await provider.aclose()


async def test_model_length_and_error_finish_reasons(upstream):
    upstream.on("/v1/chat/completions",
                json_reply(completion({"role": "assistant", "content": "truncated"}, "model_length")),
                json_reply(completion({"role": "assistant", "content": ""}, "error")))
    provider = make(upstream)
    assert (await provider.chat(request())).choices[0].finish_reason == "length"
    with pytest.raises(UpstreamError):
        await provider.chat(request())
    await provider.aclose()


async def test_stream_cut(upstream):
    upstream.on("/v1/chat/completions", sse_reply(STREAM, cut_after=2, end="clean"))
    provider = make(upstream)
    with pytest.raises(UpstreamError) as caught:
        async for _ in provider.chat_stream(request(stream=True)):
            pass
    assert caught.value.code == "stream_cut"
    await provider.aclose()


async def test_errors(upstream):
    upstream.on(
        "/v1/chat/completions",
        json_reply({"message": "Requests rate limit exceeded"}, 429, {"retry-after": "3"}),
        json_reply({"object": "error", "message": "Prompt contains 40000 tokens and 0 draft tokens, too large for "
                    "model with 32768 maximum context length", "type": "invalid_request_error", "param": None,
                    "code": None}, 400),
        json_reply({"object": "error", "message": {"detail": [{"type": "extra_forbidden", "loc": ["body", "foo"],
                    "msg": "Extra inputs are not permitted", "input": 1}]}, "type": "invalid_request_message_error",
                    "param": None, "code": None}, 422),
    )
    provider = make(upstream)
    with pytest.raises(RateLimited) as caught:
        await provider.chat(request())
    assert caught.value.headers == {"Retry-After": "3"}
    with pytest.raises(ContextLengthExceeded):
        await provider.chat(request())
    with pytest.raises(InvalidRequest, match="foo: Extra inputs are not permitted"):
        await provider.chat(request())
    await provider.aclose()


async def test_embeddings(upstream):
    upstream.on("/v1/embeddings", json_reply({
        "id": "embd-aad6fc62", "object": "list", "model": "mistral-embed",
        "data": [{"object": "embedding", "embedding": [-0.016, 0.066], "index": 0},
                 {"object": "embedding", "embedding": [0.1, 0.2], "index": 1}],
        "usage": {"prompt_tokens": 6, "total_tokens": 6, "completion_tokens": 0}}))
    provider = make(upstream)
    result = await provider.embed(EmbeddingsRequest(model="mistral-embed", input=["a", "b"]))
    assert upstream.last.path == "/v1/embeddings"
    assert upstream.last.json == {"model": "mistral-embed", "input": ["a", "b"]}
    assert result.data[1].embedding == [0.1, 0.2] and result.usage.prompt_tokens == 6
    await provider.aclose()


def test_capabilities():
    provider = MistralProvider("m", ProviderConfig(kind="mistral"), EnvSecretResolver({}))
    assert provider.capabilities("mistral-embed").embeddings is True
    assert provider.capabilities("mistral-large-latest").context_window == 131072
