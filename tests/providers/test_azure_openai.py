"""Azure OpenAI provider against a loopback fake speaking Azure's wire format."""

from __future__ import annotations

import pytest

from llm_mesh.config.schema import ProviderConfig
from llm_mesh.errors import ContentPolicyViolation, ContextLengthExceeded, RateLimited, UpstreamError
from llm_mesh.providers.azure_openai.provider import AzureOpenAIProvider
from llm_mesh.secrets import EnvSecretResolver
from llm_mesh.wire.openai_chat import ChatCompletionRequest
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest
from tests.fakes.azure_openai_upstream import (
    FakeAzureOpenAI,
    azure_completion,
    azure_stream_chunks,
    content_filter_error,
    context_length_error,
    json_reply,
    rate_limit_error,
    sse_reply,
)

KEY = "azure-key-9f8e7d"
SECRET = "entra-client-secret-XYZ"
TOOL_CALL = {"id": "call_abc", "name": "get_weather", "arguments": '{"city":"Paris"}'}
CHAT_PATH = "/openai/deployments/prod-gpt4o/chat/completions"


@pytest.fixture
def fake():
    with FakeAzureOpenAI() as upstream:
        upstream.serve_deployment("prod-gpt4o", tool_call=TOOL_CALL)
        upstream.serve_deployment("embed-small")
        yield upstream


def make(fake, **options) -> AzureOpenAIProvider:
    config = ProviderConfig(
        kind="azure_openai",
        base_url=fake.url,
        api_key={"env": "AZ_KEY"} if options.get("auth", "api_key") == "api_key" else None,
        options={"deployments": {"gpt-4o": "prod-gpt4o", "text-embedding-3-small": "embed-small"}, **options},
    )
    return AzureOpenAIProvider("azure", config, EnvSecretResolver({"AZ_KEY": KEY, "ENTRA_SECRET": SECRET}))


def chat_request(**extra) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate(
        {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], **extra}
    )


TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]


async def test_chat_uses_deployment_path_api_version_and_api_key(fake):
    provider = make(fake)
    result = await provider.chat(chat_request(temperature=0.2, seed=7))
    sent = fake.last
    assert sent.path == CHAT_PATH
    assert sent.query == {"api-version": ["2024-10-21"]}
    assert sent.headers["api-key"] == KEY
    assert "authorization" not in sent.headers
    assert sent.json["model"] == "prod-gpt4o"
    assert sent.json["temperature"] == 0.2 and sent.json["seed"] == 7
    assert "stream" not in sent.json
    assert result.choices[0].message.content == "Hello from Azure"
    # prompt_filter_results / content_filter_results must not break parsing
    assert result.usage.prompt_tokens_details.cached_tokens == 8
    await provider.aclose()


async def test_unmapped_model_is_used_as_the_deployment_name(fake):
    fake.serve_deployment("gpt-4o-mini")
    provider = make(fake)
    await provider.chat(chat_request(model="gpt-4o-mini"))
    assert fake.last.path == "/openai/deployments/gpt-4o-mini/chat/completions"
    await provider.aclose()


async def test_custom_api_version_and_v1_api(fake):
    fake.on("/openai/v1/chat/completions", json_reply(azure_completion()))
    provider = make(fake, api="v1")
    await provider.chat(chat_request())
    assert fake.last.path == "/openai/v1/chat/completions"
    assert fake.last.query == {}
    assert fake.last.json["model"] == "prod-gpt4o"
    assert fake.last.headers["api-key"] == KEY
    await provider.aclose()

    fake.on("/openai/deployments/prod-gpt4o/chat/completions", json_reply(azure_completion()))
    provider = make(fake, api_version="2025-04-01-preview")
    await provider.chat(chat_request())
    assert fake.last.query == {"api-version": ["2025-04-01-preview"]}
    await provider.aclose()


async def test_tool_call_response(fake):
    provider = make(fake)
    result = await provider.chat(chat_request(tools=TOOLS, tool_choice="required"))
    assert fake.last.json["tools"][0]["function"]["name"] == "get_weather"
    assert fake.last.json["tool_choice"] == "required"
    choice = result.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls[0].function.arguments == '{"city":"Paris"}'
    await provider.aclose()


async def test_stream_skips_prompt_filter_chunk_and_ends_with_usage(fake):
    provider = make(fake)
    chunks = [c async for c in provider.chat_stream(chat_request(stream=True))]
    body = fake.last.json
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].id == "chatcmpl-AZ2"  # the id-less prompt-filter chunk was not forwarded
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 11
    assert all(c.usage is None for c in chunks[:-1])
    await provider.aclose()


async def test_stream_tool_call_deltas(fake):
    provider = make(fake)
    chunks = [c async for c in provider.chat_stream(chat_request(stream=True, tools=TOOLS))]
    deltas = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert deltas[0].id == "call_abc" and deltas[0].type == "function" and deltas[0].function.name == "get_weather"
    assert "".join(d.function.arguments or "" for d in deltas) == '{"city":"Paris"}'
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    await provider.aclose()


async def test_stream_content_filter_finish_reason(fake):
    fake.on(CHAT_PATH, sse_reply(azure_stream_chunks(pieces=("Par",), finish_reason="content_filter")))
    provider = make(fake)
    chunks = [c async for c in provider.chat_stream(chat_request(stream=True))]
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "content_filter"
    await provider.aclose()


async def test_stream_cut_without_done_is_stream_cut(fake):
    fake.on(CHAT_PATH, sse_reply(azure_stream_chunks(), cut_after=3, end="clean"))
    provider = make(fake)
    received = []
    with pytest.raises(UpstreamError) as caught:
        async for chunk in provider.chat_stream(chat_request(stream=True)):
            received.append(chunk)
    assert caught.value.code == "stream_cut"
    assert received and received[0].choices[0].delta.role == "assistant"
    await provider.aclose()


async def test_stream_connection_dropped_mid_body(fake):
    fake.on(CHAT_PATH, sse_reply(azure_stream_chunks(), cut_after=3, end="drop"))
    provider = make(fake)
    with pytest.raises(UpstreamError):
        async for _ in provider.chat_stream(chat_request(stream=True)):
            pass
    await provider.aclose()


async def test_content_filter_error_is_content_policy_violation(fake):
    fake.on(CHAT_PATH, json_reply(content_filter_error(), 400))
    provider = make(fake)
    with pytest.raises(ContentPolicyViolation) as caught:
        await provider.chat(chat_request())
    assert "jailbreak" in caught.value.message and "violence" in caught.value.message
    assert KEY not in caught.value.message
    # the same error before a stream starts
    with pytest.raises(ContentPolicyViolation):
        async for _ in provider.chat_stream(chat_request(stream=True)):
            pass
    await provider.aclose()


async def test_rate_limit_carries_retry_after(fake):
    fake.on(CHAT_PATH, json_reply(rate_limit_error(), 429, {"retry-after": "7", "x-ms-region": "East US"}))
    provider = make(fake)
    with pytest.raises(RateLimited) as caught:
        await provider.chat(chat_request())
    assert caught.value.headers == {"Retry-After": "7"}
    await provider.aclose()


async def test_context_length_error(fake):
    fake.on(CHAT_PATH, json_reply(context_length_error(), 400))
    provider = make(fake)
    with pytest.raises(ContextLengthExceeded):
        await provider.chat(chat_request())
    await provider.aclose()


async def test_embeddings_use_embeddings_deployment(fake):
    provider = make(fake)
    result = await provider.embed(EmbeddingsRequest(model="text-embedding-3-small", input=["a", "b"], dimensions=3))
    sent = fake.last
    assert sent.path == "/openai/deployments/embed-small/embeddings"
    assert sent.query == {"api-version": ["2024-10-21"]}
    assert sent.json == {"model": "embed-small", "input": ["a", "b"], "dimensions": 3, "encoding_format": "float"}
    assert [d.index for d in result.data] == [0, 1] and result.usage.prompt_tokens == 5
    await provider.aclose()


async def test_entra_token_fetched_once_and_sent_as_bearer(fake):
    fake.serve_entra("contoso-tenant", token="tok-123")
    provider = make(
        fake,
        auth="entra",
        entra={
            "tenant_id": "contoso-tenant",
            "client_id": "app-id-1",
            "client_secret": {"env": "ENTRA_SECRET"},
            "authority_host": fake.url,
        },
    )
    await provider.chat(chat_request())
    await provider.chat(chat_request())
    token_requests = fake.requests_to("/contoso-tenant/oauth2/v2.0/token")
    assert len(token_requests) == 1  # cached until expiry
    form = token_requests[0].form
    assert form == {
        "grant_type": "client_credentials",
        "client_id": "app-id-1",
        "client_secret": SECRET,
        "scope": "https://cognitiveservices.azure.com/.default",
    }
    chats = fake.requests_to(CHAT_PATH)
    assert [r.headers["authorization"] for r in chats] == ["Bearer tok-123", "Bearer tok-123"]
    assert all("api-key" not in r.headers for r in chats)
    await provider.aclose()


async def test_entra_token_refreshed_when_expiring(fake):
    fake.serve_entra("t1", token="short", expires_in=10)  # inside the refresh margin: never reused
    provider = make(
        fake, auth="entra",
        entra={"tenant_id": "t1", "client_id": "c", "client_secret": {"env": "ENTRA_SECRET"}, "authority_host": fake.url},
    )
    await provider.chat(chat_request())
    await provider.chat(chat_request())
    assert len(fake.requests_to("/t1/oauth2/v2.0/token")) == 2
    await provider.aclose()


async def test_entra_failure_hides_the_secret(fake):
    fake.on("/t2/oauth2/v2.0/token", json_reply(
        {"error": "invalid_client", "error_description": f"AADSTS7000215: Invalid client secret provided: {SECRET}"},
        401,
    ))
    provider = make(
        fake, auth="entra",
        entra={"tenant_id": "t2", "client_id": "c", "client_secret": {"env": "ENTRA_SECRET"}, "authority_host": fake.url},
    )
    with pytest.raises(UpstreamError) as caught:
        await provider.chat(chat_request())
    assert caught.value.code == "upstream_auth_failed"
    assert "invalid_client" in caught.value.message and SECRET not in caught.value.message
    assert not fake.requests_to(CHAT_PATH)
    await provider.aclose()


def test_options_validation():
    with pytest.raises(ValueError, match="entra"):
        ProviderConfig(kind="azure_openai", base_url="https://r.openai.azure.com", options={"auth": "entra"})
    with pytest.raises(ValueError):
        ProviderConfig(kind="azure_openai", base_url="https://r.openai.azure.com", options={"deployment": {}})


def test_capabilities():
    provider = AzureOpenAIProvider(
        "a", ProviderConfig(kind="azure_openai", base_url="https://r.openai.azure.com"), EnvSecretResolver({})
    )
    assert provider.capabilities("text-embedding-3-large").embeddings is True
    assert provider.capabilities("text-embedding-3-large").chat is False
    assert provider.capabilities("gpt-4o-mini").context_window == 128000
    assert provider.capabilities("gpt-35-turbo").json_schema is False
