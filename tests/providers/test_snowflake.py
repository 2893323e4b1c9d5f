"""Snowflake Cortex provider against a loopback fake of the Cortex Chat Completions endpoint."""

from __future__ import annotations

import base64
import json
import time

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from llm_mesh.config.schema import ProviderConfig
from llm_mesh.errors import ContextLengthExceeded, InvalidRequest, RateLimited, UpstreamError
from llm_mesh.providers.snowflake.provider import SnowflakeProvider
from llm_mesh.secrets import EnvSecretResolver
from llm_mesh.wire.openai_chat import ChatCompletionRequest
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest
from tests.fakes.azure_openai_upstream import json_reply, sse_reply
from tests.fakes.snowflake_upstream import CHAT_PATH, FakeCortex, cortex_chunks, snowflake_error

PAT = "pat-snow-0001"
TOOL = {"id": "tooluse_1", "name": "get_weather", "arguments": '{"city":"Oslo"}'}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]


@pytest.fixture
def fake():
    with FakeCortex() as upstream:
        upstream.serve(tool_call=TOOL)
        yield upstream


def make(fake, env=None, **options):
    config = ProviderConfig(kind="snowflake", base_url=fake.url, api_key={"env": "SNOW_PAT"}, options=options)
    return SnowflakeProvider("snow", config, EnvSecretResolver({"SNOW_PAT": PAT, **(env or {})}))


def request(**extra):
    return ChatCompletionRequest.model_validate(
        {"model": "claude-sonnet-4-5", "messages": [{"role": "developer", "content": "terse"},
                                                     {"role": "user", "content": "snow?"}], **extra})


async def test_chat_headers_path_and_usage(fake):
    provider = make(fake)
    result = await provider.chat(request(temperature=0.1))
    sent = fake.last
    assert sent.path == CHAT_PATH
    assert sent.headers["authorization"] == f"Bearer {PAT}"
    assert sent.headers["x-snowflake-authorization-token-type"] == "PROGRAMMATIC_ACCESS_TOKEN"
    assert sent.json["messages"][0] == {"role": "system", "content": "terse"}
    assert sent.json["model"] == "claude-sonnet-4-5" and sent.json["temperature"] == 0.1
    assert result.choices[0].message.content == "Hello from Cortex"
    assert result.usage.prompt_tokens_details.cached_tokens == 10
    assert result.usage.model_extra["guard_tokens"] == 0
    await provider.aclose()


async def test_oauth_token_type(fake):
    provider = make(fake, token_type="OAUTH")
    await provider.chat(request())
    assert fake.last.headers["x-snowflake-authorization-token-type"] == "OAUTH"
    await provider.aclose()


async def test_tools_and_stream(fake):
    provider = make(fake)
    result = await provider.chat(request(tools=TOOLS))
    assert result.choices[0].message.tool_calls[0].function.arguments == TOOL["arguments"]
    chunks = [c async for c in provider.chat_stream(request(stream=True, tools=TOOLS))]
    assert fake.last.json["stream_options"] == {"include_usage": True}
    calls = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or []]
    assert calls[0].id == "tooluse_1" and "".join(t.function.arguments or "" for t in calls) == TOOL["arguments"]
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 16
    text = [c async for c in provider.chat_stream(request(stream=True))]
    assert "".join(c.choices[0].delta.content or "" for c in text if c.choices) == "Snowfall"
    await provider.aclose()


async def test_stream_cut(fake):
    fake.on(CHAT_PATH, sse_reply(cortex_chunks(), cut_after=2, end="clean"))
    provider = make(fake)
    with pytest.raises(UpstreamError) as caught:
        async for _ in provider.chat_stream(request(stream=True)):
            pass
    assert caught.value.code == "stream_cut"
    await provider.aclose()


async def test_errors(fake):
    fake.on(CHAT_PATH,
            json_reply(snowflake_error("Too many requests. Please retry later."), 429, {"retry-after": "4"}),
            json_reply(snowflake_error("max tokens of 200000 exceeded: the prompt is too long"), 400),
            json_reply(snowflake_error("Invalid OAuth access token.", "390303"), 401))
    provider = make(fake)
    with pytest.raises(RateLimited) as caught:
        await provider.chat(request())
    assert caught.value.headers == {"Retry-After": "4"}
    with pytest.raises(ContextLengthExceeded):
        await provider.chat(request())
    with pytest.raises(UpstreamError) as caught:
        await provider.chat(request())
    assert caught.value.code == "upstream_auth_failed" and PAT not in caught.value.message
    with pytest.raises(InvalidRequest):
        await provider.embed(EmbeddingsRequest(model="x", input="y"))
    await provider.aclose()


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


async def test_keypair_jwt(fake):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    config = ProviderConfig(kind="snowflake", base_url=fake.url, options={
        "account": "myorg-myacct", "keypair": {"user": "svc_mesh", "private_key": {"env": "SNOW_KEY"}}})
    provider = SnowflakeProvider("snow", config, EnvSecretResolver({"SNOW_KEY": pem}))
    await provider.chat(request())
    await provider.chat(request())
    sent = fake.requests_to(CHAT_PATH)
    assert sent[0].headers["x-snowflake-authorization-token-type"] == "KEYPAIR_JWT"
    token = sent[0].headers["authorization"].removeprefix("Bearer ")
    assert sent[1].headers["authorization"] == sent[0].headers["authorization"]  # cached
    header, payload, signature = token.split(".")
    claims = json.loads(_b64url_decode(payload))
    assert json.loads(_b64url_decode(header)) == {"alg": "RS256", "typ": "JWT"}
    assert claims["sub"] == "MYORG-MYACCT.SVC_MESH"
    assert claims["iss"].startswith("MYORG-MYACCT.SVC_MESH.SHA256:")
    assert abs(claims["iat"] - time.time()) < 60 and claims["exp"] - claims["iat"] == 3600
    key.public_key().verify(_b64url_decode(signature), f"{header}.{payload}".encode(), padding.PKCS1v15(),
                            hashes.SHA256())  # raises if the signature is wrong
    await provider.aclose()


def test_account_builds_base_url():
    config = ProviderConfig(kind="snowflake", api_key={"env": "P"}, options={"account": "MyOrg-MyAcct"})
    provider = SnowflakeProvider("s", config, EnvSecretResolver({"P": "x"}))
    assert str(provider._client.base_url).rstrip("/") == "https://myorg-myacct.snowflakecomputing.com"
