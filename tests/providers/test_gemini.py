"""Gemini provider (Gemini API and Vertex AI) against the loopback fake of Google's wire format."""

from __future__ import annotations

import json
from typing import Any

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from llm_mesh.config.schema import ProviderConfig
from llm_mesh.errors import (
    ContentPolicyViolation,
    ContextLengthExceeded,
    InvalidRequest,
    RateLimited,
    UpstreamError,
    UpstreamUnavailable,
)
from llm_mesh.providers.catalog import PROVIDER_KINDS, load_attribute
from llm_mesh.providers.gemini.provider import GeminiProvider
from llm_mesh.providers.gemini.translate_openai_gemini import decode_call_id
from llm_mesh.secrets import EnvSecretResolver
from llm_mesh.wire.openai_chat import ChatCompletionRequest
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest
from tests.fakes.gemini_upstream import GeminiUpstream

KEY = "AIza-test-key-5d4c3b2a"
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                   "additionalProperties": False}}}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}


def chat(model: str, **kwargs: Any) -> ChatCompletionRequest:
    body = {"model": model, "messages": [{"role": "system", "content": "Be brief."},
                                         {"role": "user", "content": "hello there"}]}
    body.update(kwargs)
    return ChatCompletionRequest.model_validate(body)


async def collect(provider: GeminiProvider, request: ChatCompletionRequest) -> list[Any]:
    return [chunk async for chunk in provider.chat_stream(request)]


@pytest.fixture
def fake():  # type: ignore[no-untyped-def]
    with GeminiUpstream(api_key=KEY) as upstream:
        yield upstream


@pytest_asyncio.fixture(loop_scope="function")
async def provider(fake: GeminiUpstream):  # type: ignore[no-untyped-def]
    config = ProviderConfig(kind="gemini", base_url=fake.base_url, api_key={"env": "GEMINI_KEY"})
    p = GeminiProvider("gem", config, EnvSecretResolver({"GEMINI_KEY": KEY}))
    yield p
    await p.aclose()


# ---------------------------------------------------------------- Gemini API
def test_registered_in_catalog() -> None:
    assert load_attribute(PROVIDER_KINDS["gemini"].factory) is GeminiProvider
    with pytest.raises(ValueError, match="only applies to platform: vertex"):
        ProviderConfig(kind="gemini", options={"project": "my-project-1"})
    with pytest.raises(ValueError):
        ProviderConfig(kind="gemini", options={"platform": "vertex", "location": "evil.com/x"})


async def test_chat(provider: GeminiProvider, fake: GeminiUpstream) -> None:
    out = await provider.chat(chat("gemini-2.5-flash", temperature=0.3, max_tokens=100, stop=["\n\n"]))
    sent = fake.requests[-1]
    assert sent.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert sent.headers["x-goog-api-key"] == KEY
    assert sent.body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert sent.body["contents"] == [{"role": "user", "parts": [{"text": "hello there"}]}]
    assert sent.body["generationConfig"] == {"temperature": 0.3, "maxOutputTokens": 100, "stopSequences": ["\n\n"]}
    choice = out.choices[0]
    assert choice.message.content == "Hello from gemini-2.5-flash! You said: hello there (with 1 stop sequences)"
    assert choice.finish_reason == "stop"
    assert out.usage.prompt_tokens == 2 and out.usage.completion_tokens == 11 and out.usage.total_tokens == 13


async def test_chat_n_length_and_cached_usage(provider: GeminiProvider) -> None:
    out = await provider.chat(chat("gemini-2.0-flash-cached", n=2, max_tokens=3))
    assert [c.index for c in out.choices] == [0, 1]
    assert all(c.finish_reason == "length" for c in out.choices)
    assert out.choices[0].message.content == "Hello from gemini-2.0-flash-cached!"
    assert out.usage.prompt_tokens_details.cached_tokens == 1


async def test_stream(provider: GeminiProvider, fake: GeminiUpstream) -> None:
    chunks = await collect(provider, chat("gemini-2.5-flash"))
    sent = fake.requests[-1]
    assert sent.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent" and sent.query == {"alt": ["sse"]}
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from gemini-2.5-flash! You said: hello there"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 9
    assert len({c.id for c in chunks}) == 1


async def test_tools_chat_and_follow_up(provider: GeminiProvider, fake: GeminiUpstream) -> None:
    request = chat("gemini-2.5-pro", tools=[WEATHER, TIME], tool_choice={"type": "function", "function": {"name": "get_weather"}})
    out = await provider.chat(request)
    sent = fake.requests[-1].body
    declarations = sent["tools"][0]["functionDeclarations"]
    assert declarations[0] == {"name": "get_weather", "description": "Weather for a city", "parameters": {
        "type": "OBJECT", "properties": {"city": {"type": "STRING"}}, "required": ["city"]}}
    assert declarations[1] == {"name": "get_time"}
    assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}}
    choice = out.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris"}

    follow = chat("gemini-2.5-pro", tools=[WEATHER, TIME], messages=[
        {"role": "user", "content": "weather in Paris?"},
        {"role": "assistant", "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 18}'},
    ])
    answer = await provider.chat(follow)
    sent = fake.requests[-1].body
    assert sent["contents"][2] == {"role": "user", "parts": [
        {"functionResponse": {"name": "get_weather", "response": {"temp_c": 18}}}]}
    assert answer.choices[0].message.content == 'Tool results: get_weather={"temp_c": 18}'
    assert answer.choices[0].finish_reason == "stop"


async def test_tools_none_mode_answers_text(provider: GeminiProvider) -> None:
    out = await provider.chat(chat("gemini-2.5-pro", tools=[WEATHER], tool_choice="none"))
    assert out.choices[0].message.tool_calls is None and out.choices[0].message.content.startswith("Hello")


async def test_stream_parallel_tool_calls_with_server_ids(provider: GeminiProvider) -> None:
    chunks = await collect(provider, chat("gemini-2.5-pro-parallel-ids", tools=[WEATHER, TIME], tool_choice="required"))
    deltas = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert [(d.index, d.function.name) for d in deltas] == [(0, "get_weather"), (1, "get_time")]
    assert all(d.id.startswith("fc-") and d.type == "function" for d in deltas)
    assert json.loads(deltas[0].function.arguments) == {"city": "Paris"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]
    assert chunks[-1].usage is not None


async def test_thought_signature_round_trip(provider: GeminiProvider, fake: GeminiUpstream) -> None:
    out = await provider.chat(chat("gemini-3-pro-thinking", tools=[WEATHER]))
    call = out.choices[0].message.tool_calls[0]
    assert decode_call_id(call.id)[1] is not None
    assert "Let me think" not in (out.choices[0].message.content or "")  # thought parts stay hidden
    assert out.usage.completion_tokens_details.reasoning_tokens == 5
    await provider.chat(chat("gemini-3-pro-thinking", tools=[WEATHER], messages=[
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
    ]))
    model_turn = fake.requests[-1].body["contents"][1]
    assert model_turn["parts"][0]["thoughtSignature"] == decode_call_id(call.id)[1]
    assert "id" not in model_turn["parts"][0]["functionCall"]


async def test_json_schema_mode(provider: GeminiProvider, fake: GeminiUpstream) -> None:
    out = await provider.chat(chat("gemini-2.5-flash", response_format={"type": "json_schema", "json_schema": {
        "name": "answer", "schema": {"type": "object", "properties": {"answer": {"type": "string"}},
                                     "additionalProperties": False}}}))
    config = fake.requests[-1].body["generationConfig"]
    assert config == {"responseMimeType": "application/json",
                      "responseSchema": {"type": "OBJECT", "properties": {"answer": {"type": "STRING"}}}}
    assert json.loads(out.choices[0].message.content)["echo"] == "hello there"


# ---------------------------------------------------------------- errors
async def test_rate_limit_carries_retry_after_from_retry_info(provider: GeminiProvider) -> None:
    with pytest.raises(RateLimited) as info:
        await provider.chat(chat("gemini-rate-limit"))
    assert info.value.headers == {"Retry-After": "7"}
    with pytest.raises(RateLimited) as info:
        await collect(provider, chat("gemini-rate-limit"))
    assert info.value.headers == {"Retry-After": "7"}


async def test_context_length_error(provider: GeminiProvider) -> None:
    with pytest.raises(ContextLengthExceeded, match="input token count"):
        await provider.chat(chat("gemini-too-long"))


async def test_blocked_prompt_is_a_content_policy_error(provider: GeminiProvider) -> None:
    with pytest.raises(ContentPolicyViolation):
        await provider.chat(chat("gemini-blocked"))
    with pytest.raises(ContentPolicyViolation):
        await collect(provider, chat("gemini-blocked"))


async def test_safety_stop_is_content_filter(provider: GeminiProvider) -> None:
    out = await provider.chat(chat("gemini-unsafe"))
    assert out.choices[0].finish_reason == "content_filter"
    chunks = await collect(provider, chat("gemini-unsafe"))
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["content_filter"]


async def test_unavailable_and_malformed_call(provider: GeminiProvider) -> None:
    with pytest.raises(UpstreamUnavailable):
        await provider.chat(chat("gemini-overloaded"))
    with pytest.raises(UpstreamError) as info:
        await provider.chat(chat("gemini-malformed", tools=[WEATHER]))
    assert info.value.code == "upstream_bad_tool_call"


async def test_bad_key_is_an_auth_failure_without_the_key(fake: GeminiUpstream) -> None:
    config = ProviderConfig(kind="gemini", base_url=fake.base_url, api_key={"env": "K"})
    p = GeminiProvider("gem", config, EnvSecretResolver({"K": "wrong-secret-value"}))
    try:
        with pytest.raises(UpstreamError) as info:
            await p.chat(chat("gemini-2.5-flash"))
        assert info.value.code == "upstream_auth_failed"
        assert "wrong-secret-value" not in json.dumps(info.value.to_body())
    finally:
        await p.aclose()


async def test_cut_stream_is_detected(provider: GeminiProvider) -> None:
    seen: list[Any] = []
    with pytest.raises(UpstreamError) as info:
        async for chunk in provider.chat_stream(chat("gemini-cut")):
            seen.append(chunk)
    assert info.value.code == "stream_cut"
    assert any(c.choices and c.choices[0].delta.content for c in seen)  # it was cut mid-way, not at the start
    assert not any(c.choices and c.choices[0].finish_reason for c in seen)


async def test_dropped_connection_mid_stream_is_a_cut(provider: GeminiProvider) -> None:
    with pytest.raises(UpstreamError) as info:
        await collect(provider, chat("gemini-abort"))
    assert info.value.code == "stream_cut"


async def test_error_event_mid_stream(provider: GeminiProvider) -> None:
    with pytest.raises(UpstreamError) as info:
        await collect(provider, chat("gemini-midstream-error"))
    assert info.value.code != "stream_cut" and "INTERNAL" in info.value.message


async def test_invalid_model_name(provider: GeminiProvider) -> None:
    with pytest.raises(InvalidRequest):
        await provider.chat(chat("../../v1/secret"))


# ---------------------------------------------------------------- embeddings
async def test_embeddings(provider: GeminiProvider, fake: GeminiUpstream) -> None:
    out = await provider.embed(EmbeddingsRequest(model="text-embedding-004", input=["alpha", "beta gamma"], dimensions=16))
    sent = fake.requests[-1]
    assert sent.path == "/v1beta/models/text-embedding-004:batchEmbedContents"
    assert sent.body["requests"][0] == {"model": "models/text-embedding-004", "content": {"parts": [{"text": "alpha"}]},
                                        "outputDimensionality": 16}
    assert [len(d.embedding) for d in out.data] == [16, 16]
    assert out.data[0].embedding != out.data[1].embedding
    assert out.usage.prompt_tokens > 0
    with pytest.raises(RateLimited) as info:
        await provider.embed(EmbeddingsRequest(model="text-embedding-rate-limit", input="x"))
    assert info.value.headers == {"Retry-After": "3"}


def test_capabilities(provider: GeminiProvider) -> None:
    caps = provider.capabilities("gemini-2.5-pro")
    assert caps.tools and caps.vision and caps.json_schema and not caps.embeddings
    assert caps.context_window == 1_048_576
    assert provider.capabilities("gemini-1.5-pro-002").context_window == 2_097_152
    emb = provider.capabilities("text-embedding-004")
    assert emb.embeddings and not emb.chat


# ---------------------------------------------------------------- Vertex AI
@pytest.fixture(scope="module")
def rsa_key():  # type: ignore[no-untyped-def]
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def service_account_json(key: Any, token_uri: str) -> str:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return json.dumps({
        "type": "service_account", "project_id": "sa-project-123", "private_key_id": "kid-1",
        "private_key": pem, "client_email": "mesh@sa-project-123.iam.gserviceaccount.com",
        "client_id": "1234567890", "token_uri": token_uri,
    })


@pytest.fixture
def vertex_fake(rsa_key):  # type: ignore[no-untyped-def]
    with GeminiUpstream(public_key=rsa_key.public_key()) as upstream:
        yield upstream


def vertex_provider(fake: GeminiUpstream, key: Any, **options: Any) -> GeminiProvider:
    config = ProviderConfig(kind="gemini", base_url=fake.base_url, api_key={"env": "SA_JSON"},
                            options={"platform": "vertex", "location": "europe-west4", **options})
    return GeminiProvider("vertex", config, EnvSecretResolver({"SA_JSON": service_account_json(key, fake.token_uri)}))


async def test_vertex_chat_stream_and_token_cache(vertex_fake: GeminiUpstream, rsa_key: Any) -> None:
    p = vertex_provider(vertex_fake, rsa_key, project="my-gcp-project")
    try:
        out = await p.chat(chat("gemini-2.5-flash"))
        assert out.choices[0].message.content.startswith("Hello from gemini-2.5-flash")
        chunks = await collect(p, chat("gemini-2.5-flash", tools=[WEATHER]))
        assert any(c.choices and c.choices[0].delta.tool_calls for c in chunks)
        paths = [r.path for r in vertex_fake.requests]
        prefix = "/v1/projects/my-gcp-project/locations/europe-west4/publishers/google/models/gemini-2.5-flash"
        assert paths == [prefix + ":generateContent", prefix + ":streamGenerateContent"]
        assert vertex_fake.requests[1].query == {"alt": ["sse"]}
        token = vertex_fake.issued_tokens[0]
        assert all(r.headers["authorization"] == f"Bearer {token}" for r in vertex_fake.requests)
        assert "x-goog-api-key" not in vertex_fake.requests[0].headers
        assert len(vertex_fake.token_requests) == 1  # cached across requests
        claims = vertex_fake.assertions[0]  # the fake verified the RS256 signature with the public key
        assert claims["iss"] == "mesh@sa-project-123.iam.gserviceaccount.com"
        assert claims["scope"] == "https://www.googleapis.com/auth/cloud-platform"
    finally:
        await p.aclose()


async def test_vertex_refreshes_a_token_near_expiry(rsa_key: Any) -> None:
    with GeminiUpstream(public_key=rsa_key.public_key(), token_ttl=60) as fake:  # inside the refresh margin
        p = vertex_provider(fake, rsa_key)
        try:
            await p.chat(chat("gemini-2.5-flash"))
            await p.chat(chat("gemini-2.5-flash"))
            assert len(fake.token_requests) == 2
            assert [r.headers["authorization"] for r in fake.requests] == [f"Bearer {t}" for t in fake.issued_tokens]
            # project defaults to the service account's project_id
            assert fake.requests[0].path.startswith("/v1/projects/sa-project-123/")
        finally:
            await p.aclose()


async def test_vertex_embeddings_via_predict(vertex_fake: GeminiUpstream, rsa_key: Any) -> None:
    p = vertex_provider(vertex_fake, rsa_key, embedding_task_type="RETRIEVAL_DOCUMENT")
    try:
        out = await p.embed(EmbeddingsRequest(model="text-embedding-005", input=["one two", "three"], dimensions=12))
        sent = vertex_fake.requests[-1]
        assert sent.path.endswith("/publishers/google/models/text-embedding-005:predict")
        assert sent.body == {"instances": [{"content": "one two", "task_type": "RETRIEVAL_DOCUMENT"},
                                           {"content": "three", "task_type": "RETRIEVAL_DOCUMENT"}],
                             "parameters": {"outputDimensionality": 12}}
        assert [len(d.embedding) for d in out.data] == [12, 12]
        assert out.usage.prompt_tokens == 3
    finally:
        await p.aclose()


async def test_vertex_token_rejected_by_token_endpoint(vertex_fake: GeminiUpstream) -> None:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # not the key the fake trusts
    p = vertex_provider(vertex_fake, other_key)
    try:
        with pytest.raises(UpstreamError) as info:
            await p.chat(chat("gemini-2.5-flash"))
        assert info.value.code == "upstream_auth_failed"
        assert "PRIVATE KEY" not in info.value.message and "Invalid JWT" not in info.value.message
        assert vertex_fake.requests == []
    finally:
        await p.aclose()


def test_vertex_rejects_a_non_json_credential(vertex_fake: GeminiUpstream) -> None:
    config = ProviderConfig(kind="gemini", base_url=vertex_fake.base_url, api_key={"env": "SA"},
                            options={"platform": "vertex", "project": "my-gcp-project"})
    with pytest.raises(UpstreamError) as info:
        GeminiProvider("vertex", config, EnvSecretResolver({"SA": "not-json-secret"}))
    assert "not-json-secret" not in info.value.message
