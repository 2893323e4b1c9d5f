"""SageMaker provider driven through real boto3 against the loopback SageMaker fake."""

from __future__ import annotations

import json

import pytest

from llm_mesh.config.schema import ProviderConfig
from llm_mesh.errors import ContextLengthExceeded, InvalidRequest, RateLimited, UpstreamError, UpstreamUnavailable
from llm_mesh.providers.sagemaker.provider import SageMakerProvider
from llm_mesh.secrets import EnvSecretResolver
from llm_mesh.wire.openai_chat import ChatCompletionRequest
from tests.fakes.sagemaker_upstream import start_fake_sagemaker

TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
ENDPOINTS = {"tgi": "tgi-llama", "lmi": "lmi-mistral", "vllm_openai": "vllm-qwen"}


@pytest.fixture
def aws_env(monkeypatch):
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDMESHTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "mesh-test-secret")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")


@pytest.fixture
def fake(aws_env):
    with start_fake_sagemaker() as upstream:
        yield upstream


@pytest.fixture
def make(fake):
    made = []

    def build(payload_format: str = "tgi", **options) -> SageMakerProvider:
        config = ProviderConfig(
            kind="sagemaker",
            options={
                "region": "us-east-1",
                "endpoint_url": fake.url,
                "endpoint_name": ENDPOINTS[payload_format],
                "payload_format": payload_format,
                "read_timeout": 10,
                **options,
            },
        )
        provider = SageMakerProvider("sm", config, EnvSecretResolver({}))
        made.append(provider)
        return provider

    yield build
    for provider in made:
        provider._runner.shutdown()


def chat(content="héllo wörld 👋", **extra) -> ChatCompletionRequest:
    messages = extra.pop("messages", None) or [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": content},
    ]
    return ChatCompletionRequest.model_validate({"model": "my-model", "messages": messages, **extra})


async def collect(provider, request):
    return [chunk async for chunk in provider.chat_stream(request)]


def text_of(chunks) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


# ------------------------------------------------------------------ TGI
async def test_tgi_chat(make, fake):
    provider = make("tgi", inference_component="ic-llama")
    result = await provider.chat(chat(max_tokens=20, temperature=0.5, top_p=0.9, stop=["</s>"]))
    sent = fake.requests[-1]
    assert sent.path == "/endpoints/tgi-llama/invocations"
    assert sent.headers["x-amzn-sagemaker-inference-component"] == "ic-llama"
    assert sent.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDMESHTEST/")
    body = sent.json()
    assert body["inputs"] == (
        "<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\nhéllo wörld 👋<|im_end|>\n<|im_start|>assistant\n"
    )
    assert body["parameters"] == {
        "details": True, "max_new_tokens": 20, "temperature": 0.5, "do_sample": True, "top_p": 0.9, "stop": ["</s>"],
    }
    assert result.choices[0].message.content == "Echo: héllo wörld 👋"
    assert result.choices[0].finish_reason == "stop"
    assert result.usage.completion_tokens == 4 and result.usage.prompt_tokens > 0


async def test_tgi_length_finish(make):
    result = await make("tgi").chat(chat("one two three four", max_tokens=2))
    assert result.choices[0].finish_reason == "length"
    assert result.choices[0].message.content == "Echo: one"


async def test_tgi_stream_reassembles_split_parts(make, fake):
    chunks = await collect(make("tgi"), chat())
    assert fake.requests[-1].path == "/endpoints/tgi-llama/invocations-response-stream"
    assert fake.requests[-1].json()["stream"] is True
    assert chunks[0].choices[0].delta.role == "assistant"
    assert text_of(chunks) == "Echo: héllo wörld 👋"  # the </s> special token is not text
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage.completion_tokens == 5
    assert usage.prompt_tokens == len(fake.requests[-1].json()["inputs"].split())  # TGI's input_length


async def test_tgi_stream_error_event(make):
    with pytest.raises(UpstreamError) as info:
        await collect(make("tgi"), chat("x [stream_error]"))
    assert info.value.code == "model_stream_error"


async def test_tgi_stream_cut(make):
    with pytest.raises(UpstreamError) as info:
        await collect(make("tgi"), chat("a b c d e f [cut]"))
    assert info.value.code == "stream_cut"


async def test_tgi_rejects_tools(make, fake):
    with pytest.raises(InvalidRequest):
        await make("tgi").chat(chat(tools=TOOLS))
    assert fake.requests == []


@pytest.mark.parametrize("template, expected", [
    ("llama3", "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe kind.<|eot_id|>"
               "<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"),
    ("mistral", "<s>[INST] Be kind.\n\nhi [/INST]"),
    ("plain", "System: Be kind.\nUser: hi\nAssistant:"),
])
async def test_prompt_templates(make, fake, template, expected):
    await make("tgi", prompt_template=template).chat(chat("hi"))
    assert fake.requests[-1].json()["inputs"] == expected


# ------------------------------------------------------------------ LMI
async def test_lmi_chat(make, fake):
    result = await make("lmi").chat(chat(max_tokens=30, stop="STOP", temperature=0))
    body = fake.requests[-1].json()
    assert body["parameters"] == {"details": True, "max_new_tokens": 30, "do_sample": False, "stop_sequences": ["STOP"]}
    assert result.choices[0].message.content == "Echo: héllo wörld 👋"
    assert result.usage.completion_tokens == 4


async def test_lmi_stream_json_lines(make, fake):
    chunks = await collect(make("lmi"), chat())
    assert text_of(chunks) == "Echo: héllo wörld 👋"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].usage.completion_tokens == 4


async def test_lmi_generation_error_mid_stream(make):
    with pytest.raises(UpstreamError) as info:
        await collect(make("lmi"), chat("x [lmi_error]"))
    assert info.value.code == "model_error"


async def test_lmi_stream_cut(make):
    with pytest.raises(UpstreamError) as info:
        await collect(make("lmi"), chat("a b c d e f g [cut]"))
    assert info.value.code == "stream_cut"


# ------------------------------------------------------------------ vLLM / OpenAI
async def test_vllm_chat_sends_openai_body(make, fake):
    result = await make("vllm_openai").chat(chat(max_tokens=50))
    body = fake.requests[-1].json()
    assert body["messages"][1] == {"role": "user", "content": "héllo wörld 👋"}
    assert body["model"] == "my-model" and "stream" not in body
    assert result.choices[0].message.content == "Echo: héllo wörld 👋"
    assert result.usage.total_tokens == result.usage.prompt_tokens + result.usage.completion_tokens


async def test_vllm_stream_with_tools(make, fake):
    chunks = await collect(make("vllm_openai"), chat("find cats", tools=TOOLS))
    assert fake.requests[-1].json()["stream_options"] == {"include_usage": True}
    deltas = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert deltas[0].function.name == "lookup"
    assert json.loads("".join(d.function.arguments or "" for d in deltas)) == {"query": "find cats"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None


async def test_vllm_tool_round_trip(make):
    provider = make("vllm_openai")
    first = await provider.chat(chat("find cats", tools=TOOLS))
    call = first.choices[0].message.tool_calls[0]
    second = await provider.chat(chat(messages=[
        {"role": "user", "content": "find cats"},
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "3 cats"},
    ], tools=TOOLS))
    assert second.choices[0].message.content == "Tool said: 3 cats"


async def test_vllm_stream_cut_and_error(make):
    with pytest.raises(UpstreamError) as info:
        await collect(make("vllm_openai"), chat("a b c d e [cut]"))
    assert info.value.code == "stream_cut"
    with pytest.raises(UpstreamError) as info:
        await collect(make("vllm_openai"), chat("a b c d e [stream_error]"))
    assert info.value.code == "model_stream_error"


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("fmt", ["tgi", "lmi", "vllm_openai"])
async def test_context_error_from_container(make, fmt):
    with pytest.raises(ContextLengthExceeded):
        await make(fmt).chat(chat("x [context]"))


async def test_throttling_and_overload_are_rate_limited(make):
    with pytest.raises(RateLimited) as info:
        await make("tgi").chat(chat("x [throttle]"))
    assert info.value.status == 429 and info.value.headers["Retry-After"]
    with pytest.raises(RateLimited):
        await make("tgi").chat(chat("x [overloaded]"))


async def test_not_ready_is_unavailable_and_missing_is_invalid(make):
    with pytest.raises(UpstreamUnavailable):
        await make("tgi").chat(chat("x [not_ready]"))
    with pytest.raises(InvalidRequest) as info:
        await make("tgi").chat(chat("x [missing]"))
    assert info.value.code == "upstream_model_not_found"


async def test_errors_before_stream(make):
    with pytest.raises(ContextLengthExceeded):
        await collect(make("tgi"), chat("x [context]"))


async def test_endpoint_name_defaults_to_model(fake, aws_env):
    config = ProviderConfig(kind="sagemaker", options={"region": "us-east-1", "endpoint_url": fake.url})
    provider = SageMakerProvider("sm", config, EnvSecretResolver({}))
    request = ChatCompletionRequest.model_validate({"model": "tgi-default", "messages": [{"role": "user", "content": "hi"}]})
    result = await provider.chat(request)
    assert fake.requests[-1].path == "/endpoints/tgi-default/invocations"
    assert result.choices[0].message.content == "Echo: hi"
    await provider.aclose()


def test_capabilities_follow_payload_format(make):
    assert not make("tgi").capabilities("m").tools
    assert make("vllm_openai").capabilities("m").tools
    assert not make("vllm_openai", tools=False).capabilities("m").tools
