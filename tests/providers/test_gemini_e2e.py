"""End to end: the official openai SDK -> a real mesh server -> the gemini provider -> the Gemini/Vertex fake."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.gemini_upstream import GeminiUpstream
from tests.harness import serve_mesh
from tests.providers.e2e_helpers import (
    assert_errors_keep_their_meaning,
    chunks_before_error,
    finish_reasons,
    openai_client,
    stream_text,
    tool_call_deltas,
    tool_round_trip,
)

KEY = "AIza-e2e-secret-0011"
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                   "additionalProperties": False}}}]


@pytest.fixture(scope="module")
def rsa_key():  # type: ignore[no-untyped-def]
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def upstream(rsa_key):  # type: ignore[no-untyped-def]
    with GeminiUpstream(api_key=KEY, public_key=rsa_key.public_key()) as fake:
        yield fake


@pytest.fixture(scope="module")
def mesh(upstream, rsa_key):  # type: ignore[no-untyped-def]
    pem = rsa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    service_account = json.dumps({
        "type": "service_account", "project_id": "e2e-project-1", "private_key_id": "k1", "private_key": pem,
        "client_email": "mesh@e2e-project-1.iam.gserviceaccount.com", "token_uri": upstream.token_uri,
    })
    config = {
        "providers": {
            "gemini": {"kind": "gemini", "base_url": upstream.base_url, "api_key": {"env": "GEMINI_API_KEY"}},
            "vertex": {"kind": "gemini", "base_url": upstream.base_url, "api_key": {"env": "VERTEX_SA_JSON"},
                       "options": {"platform": "vertex", "location": "us-east5"}},
        },
        "routes": {
            "chat": {"provider": "gemini", "model": "gemini-2.5-flash"},
            "vertex-chat": {"provider": "vertex", "model": "gemini-2.5-pro"},
            "embed": {"provider": "gemini", "model": "text-embedding-004"},
            "vertex-embed": {"provider": "vertex", "model": "text-embedding-005"},
            "limited": {"provider": "gemini", "model": "gemini-rate-limit"},
            "too-long": {"provider": "gemini", "model": "gemini-too-long"},
            "blocked": {"provider": "gemini", "model": "gemini-blocked"},
            "cut": {"provider": "gemini", "model": "gemini-2.5-flash-cut"},
        },
    }
    env = {"GEMINI_API_KEY": KEY, "VERTEX_SA_JSON": service_account}
    with serve_mesh(config, env=env) as running:
        yield running


@pytest.fixture()
def client(mesh):  # type: ignore[no-untyped-def]
    return openai_client(mesh)


def test_chat(client, upstream) -> None:  # type: ignore[no-untyped-def]
    out = client.chat.completions.create(model="chat", messages=[
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi mesh"}], max_tokens=50)
    assert out.choices[0].message.content == "Hello from gemini-2.5-flash! You said: hi mesh"
    assert out.choices[0].finish_reason == "stop"
    assert out.usage.total_tokens == out.usage.prompt_tokens + out.usage.completion_tokens > 0
    sent = upstream.requests[-1]
    assert sent.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert sent.body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert sent.body["generationConfig"]["maxOutputTokens"] == 50


def test_stream_with_usage(client) -> None:  # type: ignore[no-untyped-def]
    chunks = list(client.chat.completions.create(
        model="chat", messages=[{"role": "user", "content": "stream please"}], stream=True,
        stream_options={"include_usage": True}))
    assert stream_text(chunks) == "Hello from gemini-2.5-flash! You said: stream please"
    assert finish_reasons(chunks) == ["stop"]
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_tools_round_trip(client, upstream) -> None:  # type: ignore[no-untyped-def]
    first, call, second = tool_round_trip(
        client, "chat", TOOLS, "weather in Paris?", '{"temp_c": 19}', tool_choice="required")
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris"}
    declaration = upstream.requests[-2].body["tools"][0]["functionDeclarations"][0]
    assert "additionalProperties" not in json.dumps(declaration)
    assert second.choices[0].message.content == 'Tool results: get_weather={"temp_c": 19}'


def test_streamed_tool_call(client) -> None:  # type: ignore[no-untyped-def]
    chunks = list(client.chat.completions.create(
        model="chat", messages=[{"role": "user", "content": "weather?"}], tools=TOOLS, stream=True))
    calls = tool_call_deltas(chunks)
    assert calls[0].function.name == "get_weather" and calls[0].id
    assert finish_reasons(chunks) == ["tool_calls"]


def test_vertex_chat_and_stream(client, upstream) -> None:  # type: ignore[no-untyped-def]
    out = client.chat.completions.create(model="vertex-chat", messages=[{"role": "user", "content": "via vertex"}])
    assert out.choices[0].message.content == "Hello from gemini-2.5-pro! You said: via vertex"
    chunks = list(client.chat.completions.create(
        model="vertex-chat", messages=[{"role": "user", "content": "via vertex"}], stream=True))
    assert stream_text(chunks).endswith("via vertex")
    vertex_calls = [r for r in upstream.requests if r.path.startswith("/v1/projects/")]
    assert vertex_calls[0].path == ("/v1/projects/e2e-project-1/locations/us-east5/publishers/google/models/"
                                    "gemini-2.5-pro:generateContent")
    assert all(r.headers["authorization"].startswith("Bearer ya29.fake-") for r in vertex_calls)


def test_embeddings(client) -> None:  # type: ignore[no-untyped-def]
    floats = client.embeddings.create(model="embed", input=["one", "two"], encoding_format="float", dimensions=16)
    assert [len(d.embedding) for d in floats.data] == [16, 16]
    default = client.embeddings.create(model="embed", input="one", dimensions=16)  # base64 on the wire
    assert default.data[0].embedding == pytest.approx(floats.data[0].embedding, abs=1e-6)
    vertex = client.embeddings.create(model="vertex-embed", input=["three"], encoding_format="float", dimensions=12)
    assert len(vertex.data[0].embedding) == 12 and vertex.usage.prompt_tokens == 1


def test_errors_keep_their_meaning(client) -> None:  # type: ignore[no-untyped-def]
    assert_errors_keep_their_meaning(client, KEY, retry_after="7")


def test_cut_stream_is_an_explicit_error(client) -> None:  # type: ignore[no-untyped-def]
    stream = client.chat.completions.create(model="cut", messages=[{"role": "user", "content": "a b c d e f g h"}],
                                            stream=True)
    received = chunks_before_error(stream)
    assert any(c.choices and c.choices[0].delta.content for c in received)
