"""Pure unit tests of the OpenAI <-> SageMaker payload translation."""

from __future__ import annotations

import json

import pytest

from llm_mesh.errors import ContextLengthExceeded, InvalidRequest, RateLimited, UpstreamError
from llm_mesh.providers.sagemaker import translate_openai_sagemaker as wire
from llm_mesh.providers.sagemaker.errors import classify
from llm_mesh.wire.openai_chat import ChatCompletionRequest


def req(**extra) -> ChatCompletionRequest:
    messages = extra.pop("messages", [{"role": "user", "content": "hi"}])
    return ChatCompletionRequest.model_validate({"model": "m", "messages": messages, **extra})


def test_tgi_parameters_respect_tgi_ranges():
    body = wire.tgi_request(req(temperature=0, top_p=1, seed=3), "plain", stream=False)
    assert body["parameters"] == {"details": True, "do_sample": False, "seed": 3}
    assert "stream" not in body
    assert wire.tgi_request(req(), "plain", stream=True)["stream"] is True


def test_lmi_uses_stop_sequences():
    body = wire.lmi_request(req(stop="###", top_p=0.5), "chatml", stream=True)
    assert body["parameters"] == {"details": True, "top_p": 0.5, "stop_sequences": ["###"]}
    assert body["stream"] is True


def test_text_formats_reject_images_and_n():
    image = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]
    with pytest.raises(InvalidRequest):
        wire.tgi_request(req(messages=image), "chatml", stream=False)
    with pytest.raises(InvalidRequest):
        wire.lmi_request(req(n=2), "chatml", stream=False)


def test_tool_history_rendered_as_text():
    prompt = wire.render_prompt(req(messages=[
        {"role": "user", "content": "q"},
        {"role": "assistant", "tool_calls": [{"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "a", "content": "r"},
    ]), "chatml")
    assert '<|im_start|>assistant\n{"tool_calls": [{"name": "f", "arguments": "{}"}]}<|im_end|>' in prompt
    assert "<|im_start|>tool\nr<|im_end|>" in prompt


def test_line_buffer_handles_splits_inside_lines_and_characters():
    data = 'data:{"t":"👋"}\n\ndata:{"t":"é"}\n\n'.encode()
    buffer = wire.LineBuffer()
    lines = []
    for i in range(0, len(data), 3):
        lines.extend(buffer.feed(data[i : i + 3]))
    assert [line for line in lines if line] == ['data:{"t":"👋"}', 'data:{"t":"é"}']
    assert buffer.flush() == []
    buffer.feed(b'{"tail":1}')
    assert buffer.flush() == ['{"tail":1}']


def test_generate_stream_translator_tgi_and_lmi():
    t = wire.GenerateStreamTranslator(model="m", prompt="p q r")
    out = t.line('data:{"token":{"text":"Hi","special":false},"generated_text":null,"details":null}')
    assert out[0].choices[0].delta.role == "assistant" and out[1].choices[0].delta.content == "Hi"
    assert not t.complete
    end = t.line('data:{"token":{"text":"</s>","special":true},"generated_text":"Hi","details":{"finish_reason":"length","generated_tokens":2,"input_length":3}}')
    assert [c.choices[0].finish_reason for c in end if c.choices] == ["length"]
    assert end[-1].usage.prompt_tokens == 3 and end[-1].usage.completion_tokens == 2
    assert t.complete

    lmi = wire.GenerateStreamTranslator(model="m", prompt="p")
    with pytest.raises(UpstreamError):
        lmi.line('{"token":{"id":-1,"text":"","special_token":true},"generated_text":"","details":{"finish_reason":"error"}}')
    with pytest.raises(UpstreamError):
        wire.GenerateStreamTranslator(model="m", prompt="p").line('data:{"error":"boom","error_type":"generation"}')


def test_generate_response_shapes():
    tgi = wire.generate_response([{"generated_text": "x", "details": {"finish_reason": "eos_token", "generated_tokens": 1, "prefill": [{}, {}]}}], model="m", prompt="a b")
    assert tgi.choices[0].finish_reason == "stop" and tgi.usage.prompt_tokens == 2
    lmi = wire.generate_response({"generated_text": "y", "details": {"finish reason": "length", "generated_tokens": 4}}, model="m", prompt="a")
    assert lmi.choices[0].finish_reason == "length" and lmi.usage.completion_tokens == 4
    with pytest.raises(UpstreamError):
        wire.generate_response({"outputs": []}, model="m", prompt="a")


def test_openai_stream_translator_requires_done():
    t = wire.OpenAIStreamTranslator()
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [{"index": 0, "delta": {"content": "x"}}]}
    assert t.line("data: " + json.dumps(chunk)) == []
    assert t.line("")[0].choices[0].delta.content == "x"
    assert not t.complete
    t.line("data: [DONE]")
    t.line("")
    assert t.complete


def test_model_error_classification():
    assert isinstance(classify("sm", "ModelError", "m", {"OriginalStatusCode": 429, "OriginalMessage": "busy"}), RateLimited)
    assert isinstance(
        classify("sm", "ModelError", "m", {"OriginalStatusCode": 400, "OriginalMessage": "This model's maximum context length is 4096 tokens"}),
        ContextLengthExceeded,
    )
    plain = classify("sm", "ModelError", "m", {"OriginalStatusCode": 400, "OriginalMessage": "bad temperature"})
    assert type(plain) is InvalidRequest
    assert classify("sm", "ModelError", "m", {"OriginalStatusCode": 500, "OriginalMessage": "oom"}).code == "model_error"
