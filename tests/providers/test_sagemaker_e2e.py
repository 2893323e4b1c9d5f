"""End to end: the official openai SDK -> the mesh (real HTTP) -> boto3 -> the SageMaker fake."""

from __future__ import annotations

import json

import openai
import pytest

from tests.fakes.sagemaker_upstream import start_fake_sagemaker
from tests.harness import serve_mesh
from tests.providers.e2e_helpers import (
    chunks_before_error,
    fake_aws_credentials,
    openai_client,
    stream_text,
    streamed_arguments,
    tool_call_deltas,
)

TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]


@pytest.fixture(scope="module")
def upstream():
    with fake_aws_credentials(), start_fake_sagemaker() as fake:
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
    return openai_client(mesh)


@pytest.mark.parametrize("route", ["tgi", "lmi", "vllm"])
def test_chat_and_stream(client, route):
    completion = client.chat.completions.create(model=route, messages=[{"role": "user", "content": "hi mesh"}])
    assert completion.choices[0].message.content == "Echo: hi mesh"
    assert completion.choices[0].finish_reason == "stop"
    stream = client.chat.completions.create(model=route, messages=[{"role": "user", "content": "stream me ✓"}],
                                            stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    assert stream_text(chunks) == "Echo: stream me ✓"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_vllm_tools(client):
    first = client.chat.completions.create(model="vllm", messages=[{"role": "user", "content": "cats"}], tools=TOOLS)
    call = first.choices[0].message.tool_calls[0]
    assert json.loads(call.function.arguments) == {"query": "cats"}
    stream = client.chat.completions.create(model="vllm", messages=[{"role": "user", "content": "dogs"}], tools=TOOLS, stream=True)
    assert streamed_arguments(tool_call_deltas(stream)) == {"query": "dogs"}


def test_context_error(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="tgi", messages=[{"role": "user", "content": "x [context]"}])
    assert info.value.code == "context_length_exceeded"


def test_stream_cut_is_explicit(client):
    stream = client.chat.completions.create(model="tgi", stream=True,
                                            messages=[{"role": "user", "content": "a b c d e f g h i j [cut]"}])
    received = chunks_before_error(stream)
    assert received, "some chunks reached the client before the cut"
