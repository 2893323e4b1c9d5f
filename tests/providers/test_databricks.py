"""Databricks Model Serving provider against a scripted upstream speaking its wire format."""

from __future__ import annotations

import pytest

from llm_mesh.config.schema import ProviderConfig
from llm_mesh.errors import ContextLengthExceeded, InvalidRequest, RateLimited, UpstreamError
from llm_mesh.providers.databricks.provider import DatabricksProvider
from llm_mesh.secrets import EnvSecretResolver
from llm_mesh.wire.openai_chat import ChatCompletionRequest
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest
from tests.fakes.azure_openai_upstream import ScriptedUpstream, json_reply, sse_reply

PAT = "dapi0123456789abcdef"
INVOKE = "/serving-endpoints/databricks-meta-llama-3-3-70b-instruct/invocations"
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]


def chunk(delta, finish=None, completion_tokens=1):
    # Databricks repeats running usage totals on every chunk.
    return {"id": "chatcmpl_2c65", "object": "chat.completion.chunk", "created": 1758326497,
            "model": "meta-llama-3.3-70b-instruct-121024",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
            "usage": {"prompt_tokens": 20, "completion_tokens": completion_tokens,
                      "total_tokens": 20 + completion_tokens}}


FRAMES = [chunk({"role": "assistant", "content": ""}), chunk({"content": "Sol"}, None, 2),
          chunk({"content": ""}, "stop", 3)]


@pytest.fixture
def upstream():
    with ScriptedUpstream() as fake:
        yield fake


def make(upstream, **options):
    config = ProviderConfig(kind="databricks", base_url=upstream.url, api_key={"env": "DATABRICKS_TOKEN"},
                            options=options)
    return DatabricksProvider("dbx", config, EnvSecretResolver({"DATABRICKS_TOKEN": PAT}))


def request(**extra):
    return ChatCompletionRequest.model_validate(
        {"model": "databricks-meta-llama-3-3-70b-instruct", "messages": [{"role": "user", "content": "Sun?"}], **extra})


def completion(message, finish="stop"):
    return {"id": "chatcmpl_1", "object": "chat.completion", "created": 1758326497,
            "model": "meta-llama-3.3-70b-instruct-121024",
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 3, "total_tokens": 23}}


async def test_invocations_chat(upstream):
    upstream.on(INVOKE, json_reply(completion({"role": "assistant", "content": "Sol"})))
    provider = make(upstream)
    result = await provider.chat(request(max_tokens=10, tools=TOOLS))
    sent = upstream.last
    assert sent.path == INVOKE and sent.headers["authorization"] == f"Bearer {PAT}"
    assert "model" not in sent.json and sent.json["max_tokens"] == 10 and sent.json["tools"] == TOOLS
    assert result.choices[0].message.content == "Sol"
    await provider.aclose()


async def test_openai_api_with_endpoint_mapping(upstream):
    upstream.on("/serving-endpoints/chat/completions", json_reply(completion({"role": "assistant", "content": "x"})))
    provider = make(upstream, api="openai", endpoints={"llama": "databricks-meta-llama-3-3-70b-instruct"})
    await provider.chat(request(model="llama"))
    assert upstream.last.json["model"] == "databricks-meta-llama-3-3-70b-instruct"
    await provider.aclose()


async def test_stream_reduces_running_usage_to_one_final_chunk(upstream):
    upstream.on(INVOKE, sse_reply(FRAMES, done=False))  # complete without [DONE]: every choice finished
    provider = make(upstream)
    chunks = [c async for c in provider.chat_stream(request(stream=True))]
    assert upstream.last.json["stream"] is True and "stream_options" not in upstream.last.json
    assert all(c.usage is None for c in chunks[:-1])
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 3
    await provider.aclose()


async def test_stream_tool_call(upstream):
    upstream.on(INVOKE, sse_reply([
        chunk({"role": "assistant", "content": None, "tool_calls": [{"index": 0, "id": "call_87ae", "type": "function",
              "function": {"name": "get_weather", "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 0, "id": None, "type": None, "function": {"arguments": '{"city": "Tokyo"}',
                                                                               "name": None}}]}),
        chunk({}, "tool_calls", 15),
    ]))
    provider = make(upstream)
    chunks = [c async for c in provider.chat_stream(request(stream=True, tools=TOOLS))]
    calls = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or []]
    assert calls[0].id == "call_87ae" and calls[0].function.name == "get_weather"
    assert "".join(tc.function.arguments or "" for tc in calls) == '{"city": "Tokyo"}'
    await provider.aclose()


async def test_stream_cut_before_finish(upstream):
    upstream.on(INVOKE, sse_reply(FRAMES, done=False, cut_after=2, end="clean"))
    provider = make(upstream)
    with pytest.raises(UpstreamError) as caught:
        async for _ in provider.chat_stream(request(stream=True)):
            pass
    assert caught.value.code == "stream_cut"
    await provider.aclose()


async def test_errors(upstream):
    upstream.on(INVOKE,
                json_reply({"error_code": "REQUEST_LIMIT_EXCEEDED", "message": "Exceeded workspace rate limit"}, 429,
                           {"retry-after": "1"}),
                json_reply({"error_code": "BAD_REQUEST", "message": "Input validation error: `inputs` tokens + "
                            "`max_new_tokens` must be <= 4096. Given: 4000 `inputs` tokens and 200 `max_new_tokens`"},
                           400),
                json_reply({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Endpoint not found"}, 404))
    provider = make(upstream)
    with pytest.raises(RateLimited) as caught:
        await provider.chat(request())
    assert caught.value.headers == {"Retry-After": "1"}
    with pytest.raises(ContextLengthExceeded):
        await provider.chat(request())
    with pytest.raises(InvalidRequest) as caught:
        await provider.chat(request())
    assert caught.value.code == "upstream_model_not_found" and PAT not in caught.value.message
    await provider.aclose()


async def test_embeddings_via_invocations(upstream):
    upstream.on("/serving-endpoints/databricks-gte-large-en/invocations", json_reply({
        "object": "list", "model": "gte-large-en-v1.5",
        "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
        "usage": {"prompt_tokens": 3, "total_tokens": 3}}))
    provider = make(upstream)
    result = await provider.embed(EmbeddingsRequest(model="databricks-gte-large-en", input="hi"))
    assert upstream.last.json == {"input": "hi"}
    assert result.data[0].embedding == [0.1, 0.2]
    assert provider.capabilities("databricks-gte-large-en").embeddings is True
    await provider.aclose()
