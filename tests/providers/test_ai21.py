"""AI21 Jamba provider against a scripted loopback upstream speaking AI21's wire format."""

from __future__ import annotations

import pytest

from llm_mesh.config.schema import ProviderConfig
from llm_mesh.errors import ContextLengthExceeded, InvalidRequest, RateLimited, UpstreamError
from llm_mesh.providers.ai21.provider import AI21Provider
from llm_mesh.secrets import EnvSecretResolver
from llm_mesh.wire.openai_chat import ChatCompletionRequest
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest
from tests.fakes.azure_openai_upstream import ScriptedUpstream, json_reply, sse_reply

KEY = "ai21-key-abc"
PATH = "/studio/v1/chat/completions"
TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
HEAD = {"id": "chat-8d3f", "object": "chat.completion.chunk", "created": 1720000000, "model": "jamba-mini"}


def completion(message, finish="stop"):
    return {"id": "chat-8d3e", "choices": [{"index": 0, "message": message, "logprobs": None,
                                            "finish_reason": finish}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 3, "total_tokens": 23}, "meta": {"requestDurationMillis": 120},
            "model": "jamba-mini", "created": 1720000000, "object": "chat.completion"}


@pytest.fixture
def upstream():
    with ScriptedUpstream() as fake:
        yield fake


def make(upstream):
    config = ProviderConfig(kind="ai21", base_url=upstream.url + "/studio/v1", api_key={"env": "AI21_KEY"})
    return AI21Provider("ai21", config, EnvSecretResolver({"AI21_KEY": KEY}))


def request(**extra):
    return ChatCompletionRequest.model_validate({"model": "jamba-mini", "messages": [
        {"role": "system", "content": "short"},
        {"role": "user", "content": [{"type": "text", "text": "hello"}, {"type": "text", "text": "there"}]}], **extra})


async def test_chat_body_and_documents(upstream):
    upstream.on(PATH, json_reply(completion({"role": "assistant", "content": "Hi!", "tool_calls": None})))
    provider = make(upstream)
    docs = [{"content": "The sky is blue.", "metadata": [{"key": "source", "value": "wiki"}]}]
    result = await provider.chat(request(n=2, stop=["\n"], seed=1, presence_penalty=0.5, tools=TOOLS,
                                         tool_choice="auto", max_completion_tokens=50, documents=docs))
    sent = upstream.last
    assert sent.path == PATH and sent.headers["authorization"] == f"Bearer {KEY}"
    body = sent.json
    assert body["messages"][1] == {"role": "user", "content": "hello\nthere"}
    assert body["n"] == 2 and body["stop"] == ["\n"] and body["max_tokens"] == 50
    assert body["documents"] == docs and body["tools"] == TOOLS
    assert not {"seed", "presence_penalty", "tool_choice", "max_completion_tokens"} & set(body)
    assert result.choices[0].message.content == "Hi!" and result.usage.total_tokens == 23
    await provider.aclose()


async def test_tool_choice_none_drops_tools_and_forcing_is_rejected(upstream):
    upstream.on(PATH, json_reply(completion({"role": "assistant", "content": "ok"})))
    provider = make(upstream)
    await provider.chat(request(tools=TOOLS, tool_choice="none"))
    assert "tools" not in upstream.last.json
    with pytest.raises(InvalidRequest):
        await provider.chat(request(tools=TOOLS, tool_choice="required"))
    with pytest.raises(InvalidRequest):
        await provider.chat(request(response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}))
    await provider.aclose()


async def test_tool_call_response(upstream):
    upstream.on(PATH, json_reply(completion({"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_7", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "x"}'}}]},
        "tool_calls")))
    provider = make(upstream)
    result = await provider.chat(request(tools=TOOLS))
    assert result.choices[0].message.tool_calls[0].function.arguments == '{"q": "x"}'
    assert result.choices[0].finish_reason == "tool_calls"
    await provider.aclose()


async def test_stream_and_cut(upstream):
    frames = [
        {**HEAD, "choices": [{"index": 0, "delta": {"role": "assistant"}, "logprobs": None, "finish_reason": None}],
         "usage": None},
        {**HEAD, "choices": [{"index": 0, "delta": {"content": "Hi"}, "logprobs": None, "finish_reason": None}],
         "usage": None},
        {**HEAD, "choices": [{"index": 0, "delta": {"content": "!"}, "logprobs": None, "finish_reason": "stop"}],
         "usage": {"prompt_tokens": 20, "completion_tokens": 2, "total_tokens": 22}},
    ]
    upstream.on(PATH, sse_reply(frames), sse_reply(frames, cut_after=2, end="clean"))
    provider = make(upstream)
    chunks = [c async for c in provider.chat_stream(request(stream=True))]
    assert "stream_options" not in upstream.last.json
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hi!"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 22
    with pytest.raises(UpstreamError) as caught:
        async for _ in provider.chat_stream(request(stream=True)):
            pass
    assert caught.value.code == "stream_cut"
    await provider.aclose()


async def test_errors(upstream):
    upstream.on(PATH,
                json_reply({"detail": "Too many requests"}, 429, {"retry-after": "2"}),
                json_reply({"detail": "Input is too long: 300000 tokens exceed the model's context of 256000"}, 422),
                json_reply({"detail": [{"loc": ["body", "temperature"], "msg": "ensure this value is <= 2.0"}]}, 422))
    provider = make(upstream)
    with pytest.raises(RateLimited) as caught:
        await provider.chat(request())
    assert caught.value.headers == {"Retry-After": "2"}
    with pytest.raises(ContextLengthExceeded):
        await provider.chat(request())
    with pytest.raises(InvalidRequest, match="ensure this value"):
        await provider.chat(request())
    await provider.aclose()


async def test_no_embeddings(upstream):
    provider = make(upstream)
    with pytest.raises(InvalidRequest):
        await provider.embed(EmbeddingsRequest(model="jamba-mini", input="x"))
    assert provider.capabilities("jamba-large").embeddings is False
    assert not upstream.requests
    await provider.aclose()
