"""Pure unit tests of the OpenAI <-> Bedrock Converse translation."""

from __future__ import annotations

import base64
import json

import pytest

from llm_mesh.errors import InvalidRequest, UpstreamError
from llm_mesh.providers.bedrock import translate_openai_bedrock_converse as wire
from llm_mesh.providers.bedrock import translate_openai_bedrock_embeddings as emb
from llm_mesh.providers.bedrock.capabilities import base_model_id, lookup
from llm_mesh.wire.openai_chat import ChatCompletionRequest
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest

TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]


def req(messages, model="anthropic.claude-3-haiku-20240307-v1:0", **extra) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate({"model": model, "messages": messages, **extra})


def test_parallel_tool_results_merge_into_one_user_turn():
    calls = [
        {"id": "a", "type": "function", "function": {"name": "f", "arguments": '{"x":1}'}},
        {"id": "b", "type": "function", "function": {"name": "f", "arguments": ""}},
    ]
    kwargs = wire.converse_request(req([
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": "calling", "tool_calls": calls},
        {"role": "tool", "tool_call_id": "a", "content": "one"},
        {"role": "tool", "tool_call_id": "b", "content": "two"},
        {"role": "user", "content": "and?"},
    ], tools=TOOLS))
    roles = [m["role"] for m in kwargs["messages"]]
    assert roles == ["user", "assistant", "user"]
    assert kwargs["messages"][1]["content"] == [
        {"text": "calling"},
        {"toolUse": {"toolUseId": "a", "name": "f", "input": {"x": 1}}},
        {"toolUse": {"toolUseId": "b", "name": "f", "input": {}}},
    ]
    last = kwargs["messages"][2]["content"]
    assert [b.get("toolResult", {}).get("toolUseId") for b in last[:2]] == ["a", "b"]
    assert last[2] == {"text": "and?"}
    assert kwargs["toolConfig"]["toolChoice"] == {"auto": {}}


def test_tool_choice_none_keeps_tools_only_when_history_needs_them():
    plain = wire.converse_request(req([{"role": "user", "content": "x"}], tools=TOOLS, tool_choice="none"))
    assert "toolConfig" not in plain
    history = wire.converse_request(req([
        {"role": "user", "content": "x"},
        {"role": "assistant", "tool_calls": [{"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "a", "content": "r"},
    ], tools=TOOLS, tool_choice="none"))
    assert "toolChoice" not in history["toolConfig"] and history["toolConfig"]["tools"]


def test_system_prepended_for_models_without_system_prompts():
    kwargs = wire.converse_request(req(
        [{"role": "system", "content": "rules"}, {"role": "user", "content": "hi"}], model="amazon.titan-text-express-v1"
    ))
    assert "system" not in kwargs
    assert kwargs["messages"][0]["content"] == [{"text": "rules"}, {"text": "hi"}]


def test_developer_role_is_system_and_json_schema_is_output_config():
    kwargs = wire.converse_request(req(
        [{"role": "developer", "content": "dev"}, {"role": "user", "content": "hi"}],
        response_format={"type": "json_schema", "json_schema": {"name": "out", "schema": {"type": "object"}}},
    ))
    assert kwargs["system"] == [{"text": "dev"}]
    fmt = kwargs["outputConfig"]["textFormat"]
    assert fmt["type"] == "json_schema"
    assert json.loads(fmt["structure"]["jsonSchema"]["schema"]) == {"type": "object"}
    assert fmt["structure"]["jsonSchema"]["name"] == "out"


def test_image_data_urls_and_rejections():
    jpeg = base64.b64encode(b"\xff\xd8\xffjpeg").decode()
    block = wire.image_block(f"data:image/jpeg;base64,{jpeg}")
    assert block == {"image": {"format": "jpeg", "source": {"bytes": b"\xff\xd8\xffjpeg"}}}
    with pytest.raises(InvalidRequest):
        wire.image_block("http://example.com/x.png")
    with pytest.raises(InvalidRequest):
        wire.image_block("data:image/tiff;base64,AAAA")
    with pytest.raises(InvalidRequest):
        wire.image_block("data:image/png;base64,@@not-base64@@")


def test_n_greater_than_one_and_bad_tool_arguments_rejected():
    with pytest.raises(InvalidRequest):
        wire.converse_request(req([{"role": "user", "content": "x"}], n=2))
    with pytest.raises(InvalidRequest):
        wire.converse_request(req([
            {"role": "user", "content": "x"},
            {"role": "assistant", "tool_calls": [{"id": "a", "type": "function", "function": {"name": "f", "arguments": "[1]"}}]},
        ], tools=TOOLS))


def test_max_completion_tokens_and_stop_list():
    kwargs = wire.converse_request(req([{"role": "user", "content": "x"}], max_completion_tokens=9, stop=["a", "b"]))
    assert kwargs["inferenceConfig"] == {"maxTokens": 9, "stopSequences": ["a", "b"]}


def test_response_mapping_and_usage_with_cache():
    data = {
        "output": {"message": {"role": "assistant", "content": [
            {"text": "Hi "}, {"text": "there"},
            {"toolUse": {"toolUseId": "t1", "name": "f", "input": {"a": [1, 2]}}},
        ]}},
        "stopReason": "tool_use",
        "usage": {"inputTokens": 5, "outputTokens": 7, "totalTokens": 22, "cacheReadInputTokens": 8, "cacheWriteInputTokens": 2},
    }
    result = wire.converse_response(data, model="m", response_id="chatcmpl-x", created=1)
    choice = result.choices[0]
    assert choice.message.content == "Hi there"
    assert choice.message.tool_calls[0].id == "t1" and json.loads(choice.message.tool_calls[0].function.arguments) == {"a": [1, 2]}
    assert choice.finish_reason == "tool_calls"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens, result.usage.total_tokens) == (15, 7, 22)
    assert result.usage.prompt_tokens_details.cached_tokens == 8


@pytest.mark.parametrize("reason, expected", [
    ("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"),
    ("guardrail_intervened", "content_filter"), ("content_filtered", "content_filter"),
    ("model_context_window_exceeded", "length"), ("tool_use", "tool_calls"),
])
def test_stop_reasons(reason, expected):
    assert wire.finish_reason(reason, False) == expected


def test_stream_translator_events():
    t = wire.StreamTranslator(model="m", response_id="id", created=1)
    out = t.feed({"messageStart": {"role": "assistant"}})
    assert out[0].choices[0].delta.role == "assistant"
    assert t.feed({"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "Hi"}}})[0].choices[0].delta.content == "Hi"
    start = t.feed({"contentBlockStart": {"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "t", "name": "f"}}}})
    call = start[0].choices[0].delta.tool_calls[0]
    assert (call.index, call.id, call.type, call.function.name) == (0, "t", "function", "f")
    frag = t.feed({"contentBlockDelta": {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '{"a"'}}}})
    assert frag[0].choices[0].delta.tool_calls[0].function.arguments == '{"a"'
    assert frag[0].choices[0].delta.tool_calls[0].id is None
    assert not t.complete
    stop = t.feed({"messageStop": {"stopReason": "tool_use"}})
    assert stop[0].choices[0].finish_reason == "tool_calls" and t.complete
    usage = t.feed({"metadata": {"usage": {"inputTokens": 1, "outputTokens": 2, "totalTokens": 3}}})
    assert usage[0].choices == [] and usage[0].usage.total_tokens == 3


def test_stream_translator_rejects_orphan_tool_delta_and_exception_events():
    t = wire.StreamTranslator(model="m", response_id="id")
    with pytest.raises(UpstreamError):
        t.feed({"contentBlockDelta": {"contentBlockIndex": 3, "delta": {"toolUse": {"input": "{}"}}}})
    with pytest.raises(wire.StreamException) as info:
        t.feed({"throttlingException": {"message": "slow down"}})
    assert info.value.code == "throttlingException"


def test_model_ids_resolve_through_profiles_and_arns():
    assert base_model_id("us.anthropic.claude-3-haiku") == "anthropic.claude-3-haiku"
    assert base_model_id("arn:aws:bedrock:us-east-1:1:inference-profile/eu.meta.llama3-1-8b") == "meta.llama3-1-8b"
    assert lookup("global.anthropic.claude-sonnet-4-5-20250929-v1:0").json_schema
    assert not lookup("meta.llama3-8b-instruct-v1:0").tools
    assert lookup("meta.llama3-2-90b-instruct-v1:0").vision


def test_embedding_bodies():
    assert json.loads(emb.titan_body("a", model="amazon.titan-embed-text-v2:0", dimensions=512, normalize=True)) == {
        "inputText": "a", "dimensions": 512, "normalize": True,
    }
    with pytest.raises(InvalidRequest):
        emb.titan_body("a", model="amazon.titan-embed-text-v2:0", dimensions=300, normalize=True)
    assert json.loads(emb.titan_body("a", model="amazon.titan-embed-text-v1", dimensions=None, normalize=True)) == {"inputText": "a"}
    assert json.loads(emb.cohere_body(["a", "b"], input_type="search_query")) == {"texts": ["a", "b"], "input_type": "search_query"}
    with pytest.raises(UpstreamError):
        emb.cohere_result({"embeddings": [[0.1]]}, expected=2)
    with pytest.raises(InvalidRequest):
        emb.texts_of(EmbeddingsRequest(model="amazon.titan-embed-text-v2:0", input=[1, 2, 3]))
