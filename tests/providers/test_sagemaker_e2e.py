"""End to end: the official openai SDK -> the mesh (real HTTP) -> boto3 -> the SageMaker fake."""

from __future__ import annotations

import json

import openai
import pytest

from tests.fakes.sagemaker_upstream import start_fake_sagemaker
from tests.harness import serve_mesh

TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIDMESHE2E",
    "AWS_SECRET_ACCESS_KEY": "mesh-e2e-secret",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
}


@pytest.fixture(scope="module")
def upstream():
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_PROFILE"):
            patch.delenv(name, raising=False)
        for name, value in AWS_ENV.items():
            patch.setenv(name, value)
        with start_fake_sagemaker() as fake:
            yield fake


def _provider(url: str, endpoint: str, fmt: str) -> dict:
    return {"kind": "sagemaker", "options": {"region": "us-east-1", "endpoint_url": url, "endpoint_name": endpoint,
                                             "payload_format": fmt, "read_timeout": 10}}


@pytest.fixture(scope="module")
def mesh(upstream):
    config = {
        "providers": {
            "sm-tgi": _provider(upstream.url, "tgi-llama", "tgi"),
            "sm-lmi": _provider(upstream.url, "lmi-mistral", "lmi"),
            "sm-vllm": _provider(upstream.url, "vllm-qwen", "vllm_openai"),
        },
        "routes": {
            "tgi": {"provider": "sm-tgi", "model": "llama-3-8b"},
            "lmi": {"provider": "sm-lmi", "model": "mistral-7b"},
            "vllm": {"provider": "sm-vllm", "model": "qwen-7b"},
        },
    }
    with serve_mesh(config) as running:
        yield running


@pytest.fixture()
def client(mesh):
    return openai.OpenAI(base_url=mesh.base_url, api_key=mesh.api_key, max_retries=0)


@pytest.mark.parametrize("route", ["tgi", "lmi", "vllm"])
def test_chat_and_stream(client, route):
    completion = client.chat.completions.create(model=route, messages=[{"role": "user", "content": "hi mesh"}])
    assert completion.choices[0].message.content == "Echo: hi mesh"
    assert completion.choices[0].finish_reason == "stop"
    stream = client.chat.completions.create(model=route, messages=[{"role": "user", "content": "stream me ✓"}],
                                            stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Echo: stream me ✓"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_vllm_tools(client):
    first = client.chat.completions.create(model="vllm", messages=[{"role": "user", "content": "cats"}], tools=TOOLS)
    call = first.choices[0].message.tool_calls[0]
    assert json.loads(call.function.arguments) == {"query": "cats"}
    stream = client.chat.completions.create(model="vllm", messages=[{"role": "user", "content": "dogs"}], tools=TOOLS, stream=True)
    deltas = [tc for c in stream if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert json.loads("".join(d.function.arguments or "" for d in deltas)) == {"query": "dogs"}


def test_context_error(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="tgi", messages=[{"role": "user", "content": "x [context]"}])
    assert info.value.code == "context_length_exceeded"


def test_stream_cut_is_explicit(client):
    stream = client.chat.completions.create(model="tgi", stream=True,
                                            messages=[{"role": "user", "content": "a b c d e f g h i j [cut]"}])
    received = []
    with pytest.raises(openai.APIError):
        for chunk in stream:
            received.append(chunk)
    assert received, "some chunks reached the client before the cut"
