"""Pure unit tests: the shared OpenAI-like stream normaliser and the Azure translator."""

from __future__ import annotations

import pytest

from llm_mesh.providers.azure_openai import translate_openai_azure_openai as azure
from llm_mesh.providers.azure_openai.errors import classify
from llm_mesh.providers.openai_compat import StreamNormalizer, map_finish_reason, normalise_completion
from llm_mesh.wire.openai_chat import ChatCompletionRequest
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest

HEAD = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m"}


def test_finish_reason_mapping():
    assert [map_finish_reason(r) for r in ("stop", "eos_token", "model_length", "tool_use", None)] == [
        "stop", "stop", "length", "tool_calls", None]
    assert map_finish_reason("odd", {"odd": "content_filter"}) == "content_filter"
    body = normalise_completion({"choices": [{"index": 0, "finish_reason": "eos_token", "message": {
        "role": "assistant", "tool_calls": [{"id": "x", "function": {"name": "f", "arguments": "{}"}}]}}]})
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["choices"][0]["message"]["tool_calls"][0]["type"] == "function"


def test_normaliser_role_usage_and_service_chunks():
    n = StreamNormalizer()
    assert n.feed({"choices": [], "id": "", "model": "", "object": "", "created": 0, "prompt_filter_results": []}) == []
    first = n.feed({**HEAD, "choices": [{"index": 0, "delta": {"content": "a"}, "finish_reason": None}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})
    assert first[0].choices[0].delta.role == "assistant" and first[0].usage is None
    last = n.feed({**HEAD, "choices": [{"index": 0, "delta": {}, "finish_reason": "eos_token"}],
                   "usage": {"prompt_tokens": 1, "completion_tokens": 3, "total_tokens": 4}})
    assert last[0].choices[0].finish_reason == "stop" and n.all_finished
    closing = n.close()
    assert len(closing) == 1 and closing[0].choices == [] and closing[0].usage.completion_tokens == 3
    assert closing[0].id == "c1" and closing[0].model == "m"


def test_normaliser_tool_call_delta_gets_type_and_index():
    n = StreamNormalizer()
    out = n.feed({**HEAD, "choices": [{"index": 0, "delta": {"tool_calls": [
        {"id": "t1", "function": {"name": "f", "arguments": "{}"}}]}, "finish_reason": None}]})
    call = out[0].choices[0].delta.tool_calls[0]
    assert (call.index, call.id, call.type) == (0, "t1", "function")
    assert n.close() == []  # no usage reported, no usage chunk


def test_normaliser_rejects_garbage():
    with pytest.raises(ValueError):
        StreamNormalizer().feed(["not", "an", "object"])


def test_azure_paths_and_bodies():
    assert azure.operation_path("deployments", "2024-10-21", "my dep", "chat/completions") == (
        "/openai/deployments/my%20dep/chat/completions?api-version=2024-10-21")
    assert azure.operation_path("v1", "2024-10-21", "d", "embeddings") == "/openai/v1/embeddings"
    assert azure.deployment_for("gpt-4o", {"gpt-4o": "prod"}) == "prod"
    assert azure.deployment_for("other", {"gpt-4o": "prod"}) == "other"
    request = ChatCompletionRequest.model_validate({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}],
                                                    "metadata": {"team": "a"}})
    body = azure.chat_request_body(request, "prod", stream=True)
    assert body["model"] == "prod" and "metadata" not in body and body["stream_options"] == {"include_usage": True}
    emb = azure.embeddings_request_body(EmbeddingsRequest(model="e", input="x"), "emb-dep")
    assert emb == {"model": "emb-dep", "input": "x", "encoding_format": "float"}


def test_azure_classify():
    blocked = classify(400, {"error": {"code": "content_filter", "message": "filtered", "innererror": {
        "code": "ResponsibleAIPolicyViolation", "content_filter_result": {"hate": {"filtered": True, "severity": "high"},
                                                                           "sexual": {"filtered": False}}}}})
    assert blocked.code == "content_policy_violation" and "hate" in blocked.message and "sexual" not in blocked.message
    assert classify(400, {"error": {"code": "context_length_exceeded", "message": "too long"}}).code == (
        "context_length_exceeded")
    assert classify(404, {"error": {"code": "DeploymentNotFound", "message": "x"}}).code == "upstream_model_not_found"
    assert classify(400, {"error": {"code": "invalid_value", "message": "x"}}) is None
    assert classify(500, None) is None
