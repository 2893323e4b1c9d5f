"""Pure unit tests of the OpenAI <-> Gemini translation (no I/O)."""

from __future__ import annotations

import json

import pytest

from llm_mesh.errors import ContentPolicyViolation, InvalidRequest, UpstreamError
from llm_mesh.providers.gemini import translate_openai_gemini as t
from llm_mesh.wire.openai_chat import ChatCompletionRequest
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest

PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


def req(**kwargs):  # type: ignore[no-untyped-def]
    base = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]}
    base.update(kwargs)
    return ChatCompletionRequest.model_validate(base)


# ---------------------------------------------------------------- request
def test_system_messages_become_system_instruction_and_roles_map() -> None:
    body = t.chat_request_body(req(messages=[
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": "Use metric units."},
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hi!"},
        {"role": "user", "content": "Weather?"},
    ]))
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief.\n\nUse metric units."}]}
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    assert body["contents"][1]["parts"] == [{"text": "Hi!"}]
    assert "role" not in body["systemInstruction"]


def test_images_become_inline_data_or_file_data() -> None:
    body = t.chat_request_body(req(messages=[{"role": "user", "content": [
        {"type": "text", "text": "Compare"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
        {"type": "image_url", "image_url": {"url": "gs://bucket/photos/cat.webp"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/a/dog.jpeg?x=1"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/no-extension"}},
    ]}]))
    parts = body["contents"][0]["parts"]
    assert parts[0] == {"text": "Compare"}
    assert parts[1] == {"inlineData": {"mimeType": "image/png", "data": PNG_B64}}
    assert parts[2] == {"fileData": {"mimeType": "image/webp", "fileUri": "gs://bucket/photos/cat.webp"}}
    assert parts[3] == {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/a/dog.jpeg?x=1"}}
    assert parts[4]["fileData"]["mimeType"] == "image/jpeg"  # the image default


def test_bad_media_is_rejected() -> None:
    with pytest.raises(InvalidRequest):
        t.chat_request_body(req(messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,@@not-base64@@"}}]}]))
    with pytest.raises(InvalidRequest):
        t.chat_request_body(req(messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}]}]))


def test_tool_round_trip_names_responses_and_merges_parallel_results() -> None:
    body = t.chat_request_body(req(
        messages=[
            {"role": "user", "content": "Weather and time in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_0123456789ab_0", "type": "function",
                 "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
                {"id": "fc-server-id", "type": "function", "function": {"name": "get_time", "arguments": ""}},
            ]},
            {"role": "tool", "tool_call_id": "call_0123456789ab_0", "content": '{"temp_c": 21}'},
            {"role": "tool", "tool_call_id": "fc-server-id", "content": "14:05"},
        ],
        tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {
            "type": "object", "properties": {"city": {"type": "string"}}}}},
               {"type": "function", "function": {"name": "get_time"}}],
    ))
    model_turn, results = body["contents"][1], body["contents"][2]
    assert model_turn == {"role": "model", "parts": [
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},  # synthetic id not sent
        {"functionCall": {"name": "get_time", "args": {}, "id": "fc-server-id"}},
    ]}
    assert results == {"role": "user", "parts": [
        {"functionResponse": {"name": "get_weather", "response": {"temp_c": 21}}},
        {"functionResponse": {"name": "get_time", "response": {"output": "14:05"}, "id": "fc-server-id"}},
    ]}
    assert len(body["contents"]) == 3


def test_thought_signature_travels_in_the_tool_call_id() -> None:
    call_id = t.encode_call_id("call_0123456789ab_0", "c2lnbmF0dXJl")
    assert t.decode_call_id(call_id) == ("call_0123456789ab_0", "c2lnbmF0dXJl")
    assert t.decode_call_id("plain") == ("plain", None)
    body = t.chat_request_body(req(messages=[
        {"role": "user", "content": "go"},
        {"role": "assistant", "tool_calls": [{"id": call_id, "type": "function",
                                              "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": call_id, "content": "ok"},
    ]))
    part = body["contents"][1]["parts"][0]
    assert part["thoughtSignature"] == "c2lnbmF0dXJl"
    assert part["functionCall"] == {"name": "f", "args": {}}


def test_unknown_tool_call_id_and_non_object_arguments_are_rejected() -> None:
    with pytest.raises(InvalidRequest, match="no earlier assistant"):
        t.chat_request_body(req(messages=[{"role": "user", "content": "x"},
                                          {"role": "tool", "tool_call_id": "nope", "content": "1"}]))
    with pytest.raises(InvalidRequest, match="JSON object"):
        t.chat_request_body(req(messages=[{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "f", "arguments": "[1]"}}]}]))


def test_tool_choice_maps_to_function_calling_config() -> None:
    tools = [{"type": "function", "function": {"name": "a"}}, {"type": "function", "function": {"name": "b"}}]
    cases = {
        "auto": {"mode": "AUTO"},
        "none": {"mode": "NONE"},
        "required": {"mode": "ANY"},
    }
    for choice, expected in cases.items():
        body = t.chat_request_body(req(tools=tools, tool_choice=choice))
        assert body["toolConfig"] == {"functionCallingConfig": expected}
    named = t.chat_request_body(req(tools=tools, tool_choice={"type": "function", "function": {"name": "b"}}))
    assert named["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["b"]}}
    assert "toolConfig" not in t.chat_request_body(req(tools=tools))
    assert [d["name"] for d in named["tools"][0]["functionDeclarations"]] == ["a", "b"]


def test_generation_config_parameters() -> None:
    body = t.chat_request_body(req(temperature=0.2, top_p=0.9, max_tokens=50, stop="END", n=2, seed=7,
                                   presence_penalty=0.5, frequency_penalty=-0.5))
    assert body["generationConfig"] == {
        "temperature": 0.2, "topP": 0.9, "maxOutputTokens": 50, "stopSequences": ["END"], "candidateCount": 2,
        "seed": 7, "presencePenalty": 0.5, "frequencyPenalty": -0.5,
    }
    assert t.chat_request_body(req(max_completion_tokens=9))["generationConfig"] == {"maxOutputTokens": 9}
    assert "generationConfig" not in t.chat_request_body(req())


def test_json_modes() -> None:
    plain = t.chat_request_body(req(response_format={"type": "json_object"}))
    assert plain["generationConfig"] == {"responseMimeType": "application/json"}
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"],
              "additionalProperties": False, "$schema": "http://json-schema.org/draft-07/schema#"}
    body = t.chat_request_body(req(response_format={"type": "json_schema",
                                                    "json_schema": {"name": "x", "schema": schema, "strict": True}}))
    assert body["generationConfig"]["responseMimeType"] == "application/json"
    assert body["generationConfig"]["responseSchema"] == {
        "type": "OBJECT", "properties": {"n": {"type": "INTEGER"}}, "required": ["n"]}


def test_schema_cleaning() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": False,
        "$defs": {"Unit": {"type": "string", "enum": ["c", "f"]}},
        "properties": {
            "city": {"type": "string", "minLength": 1, "format": "hostname", "examples": ["Paris"]},
            "unit": {"$ref": "#/$defs/Unit"},
            "days": {"type": ["integer", "null"], "minimum": 1, "format": "int32"},
            "mode": {"const": "fast"},
            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3, "uniqueItems": True},
            "either": {"oneOf": [{"type": "string"}, {"type": "number"}, {"type": "null"}]},
            "empty": {"type": "object", "properties": {}},
        },
        "required": ["city", "ghost"],
    }
    out = t.gemini_schema(schema)
    assert out["type"] == "OBJECT"
    assert out["required"] == ["city"]  # names that are not properties are dropped
    props = out["properties"]
    assert props["city"] == {"type": "STRING", "minLength": "1"}  # unsupported format and examples dropped
    assert props["unit"] == {"type": "STRING", "enum": ["c", "f"], "format": "enum"}
    assert props["days"] == {"type": "INTEGER", "minimum": 1, "format": "int32", "nullable": True}
    assert props["mode"] == {"type": "STRING", "enum": ["fast"], "format": "enum"}
    assert props["tags"] == {"type": "ARRAY", "items": {"type": "STRING"}, "maxItems": "3"}
    assert props["either"] == {"anyOf": [{"type": "STRING"}, {"type": "NUMBER"}], "nullable": True}
    assert props["empty"] == {"type": "OBJECT"}
    text = json.dumps(out)
    for banned in ("additionalProperties", "$schema", "$defs", "$ref", "uniqueItems", "const", "examples", "oneOf"):
        assert banned not in text


def test_recursive_schema_is_rejected() -> None:
    schema = {"type": "object", "$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}},
              "properties": {"root": {"$ref": "#/$defs/Node"}}}
    with pytest.raises(InvalidRequest, match="recursive"):
        t.gemini_schema(schema)


def test_tool_without_parameters_has_no_parameters_key() -> None:
    body = t.chat_request_body(req(tools=[{"type": "function", "function": {
        "name": "now", "description": "time", "parameters": {"type": "object", "properties": {}}}}]))
    assert body["tools"] == [{"functionDeclarations": [{"name": "now", "description": "time"}]}]


# ---------------------------------------------------------------- response
def test_finish_reason_mapping() -> None:
    assert t.finish_reason("STOP", False) == "stop"
    assert t.finish_reason("STOP", True) == "tool_calls"
    assert t.finish_reason("MAX_TOKENS", False) == "length"
    for reason in ("SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"):
        assert t.finish_reason(reason, False) == "content_filter"
    assert t.finish_reason("OTHER", False) == "stop"
    assert t.finish_reason(None, False) is None


def test_response_with_text_tools_thoughts_and_usage() -> None:
    data = {
        "responseId": "resp-1",
        "candidates": [{
            "index": 0, "finishReason": "STOP",
            "content": {"role": "model", "parts": [
                {"text": "hidden reasoning", "thought": True},
                {"text": "Checking. "},
                {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}, "thoughtSignature": "U0lH"},
                {"functionCall": {"id": "srv-2", "name": "get_time", "args": {}}},
            ]},
        }],
        "usageMetadata": {"promptTokenCount": 100, "cachedContentTokenCount": 40, "candidatesTokenCount": 20,
                          "thoughtsTokenCount": 7, "toolUsePromptTokenCount": 3, "totalTokenCount": 130},
    }
    out = t.chat_response(data, "gemini-2.5-pro")
    choice = out.choices[0]
    assert out.id == "chatcmpl-resp-1" and out.model == "gemini-2.5-pro"
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Checking. "
    first, second = choice.message.tool_calls
    assert t.decode_call_id(first.id)[1] == "U0lH"
    assert t.decode_call_id(first.id)[0].startswith("call_")
    assert json.loads(first.function.arguments) == {"city": "Oslo"}
    assert second.id == "srv-2"
    assert out.usage.prompt_tokens == 103
    assert out.usage.completion_tokens == 27
    assert out.usage.total_tokens == 130
    assert out.usage.prompt_tokens_details.cached_tokens == 40
    assert out.usage.completion_tokens_details.reasoning_tokens == 7
    # The same response translated twice gives the same synthetic ids (stable per responseId).
    assert t.chat_response(data, "m").choices[0].message.tool_calls[0].id == first.id


def test_multiple_candidates_and_length() -> None:
    data = {"candidates": [
        {"index": 0, "finishReason": "STOP", "content": {"parts": [{"text": "a"}], "role": "model"}},
        {"index": 1, "finishReason": "MAX_TOKENS", "content": {"parts": [{"text": "b"}], "role": "model"}},
    ]}
    out = t.chat_response(data, "m")
    assert [(c.index, c.message.content, c.finish_reason) for c in out.choices] == [(0, "a", "stop"), (1, "b", "length")]
    assert out.usage is None


def test_blocked_prompt_and_malformed_call() -> None:
    with pytest.raises(ContentPolicyViolation, match="SAFETY"):
        t.chat_response({"promptFeedback": {"blockReason": "SAFETY"}}, "m")
    with pytest.raises(UpstreamError) as info:
        t.chat_response({"candidates": [{"finishReason": "MALFORMED_FUNCTION_CALL", "content": {"parts": []}}]}, "m")
    assert info.value.code == "upstream_bad_tool_call"
    with pytest.raises(UpstreamError):
        t.chat_response({"candidates": []}, "m")


def _text_chunk(text: str, finish: str | None = None, index: int = 0) -> dict:
    candidate: dict = {"index": index, "content": {"role": "model", "parts": [{"text": text}]}}
    if finish:
        candidate["finishReason"] = finish
    return {"responseId": "r1", "candidates": [candidate]}


def test_stream_translator_text_and_usage() -> None:
    st = t.StreamTranslator(model="m")
    chunks = st.feed(_text_chunk("Hel"))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[1].choices[0].delta.content == "Hel"
    last = _text_chunk("lo", "STOP")
    last["usageMetadata"] = {"promptTokenCount": 4, "candidatesTokenCount": 2, "totalTokenCount": 6}
    chunks = st.feed(last)
    assert [c.choices[0].delta.content for c in chunks[:1]] == ["lo"]
    assert chunks[1].choices[0].finish_reason == "stop"
    tail = st.close()
    assert tail[0].choices == [] and tail[0].usage.total_tokens == 6
    assert len({c.id for c in chunks + tail}) == 1


def test_stream_translator_function_call_and_cut() -> None:
    st = t.StreamTranslator(model="m")
    chunks = st.feed({"candidates": [{"index": 0, "finishReason": "STOP", "content": {"parts": [
        {"functionCall": {"name": "f", "args": {"a": 1}}}]}}]})
    call = chunks[1].choices[0].delta.tool_calls[0]
    assert (call.index, call.type, call.function.name, json.loads(call.function.arguments)) == (0, "function", "f", {"a": 1})
    assert call.id.startswith("call_")
    assert chunks[2].choices[0].finish_reason == "tool_calls"
    assert st.close() == []

    cut = t.StreamTranslator(model="m")
    cut.feed(_text_chunk("partial"))
    with pytest.raises(UpstreamError) as info:
        cut.close()
    assert info.value.code == "stream_cut"
    with pytest.raises(UpstreamError):
        t.StreamTranslator(model="m").close()  # nothing at all arrived


def test_stream_translator_waits_for_every_candidate() -> None:
    st = t.StreamTranslator(model="m", choices=2)
    st.feed(_text_chunk("a", "STOP", index=0))
    with pytest.raises(UpstreamError):
        st.close()
    st.feed(_text_chunk("b", "STOP", index=1))
    assert st.close() == []


def test_stream_translator_blocked_prompt() -> None:
    with pytest.raises(ContentPolicyViolation):
        t.StreamTranslator(model="m").feed({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}})


# ---------------------------------------------------------------- embeddings
def test_embedding_requests_and_responses() -> None:
    request = EmbeddingsRequest(model="text-embedding-004", input=["a", "b"], dimensions=64)
    body = t.batch_embed_request(request, "text-embedding-004", "RETRIEVAL_DOCUMENT")
    assert body["requests"][1] == {"model": "models/text-embedding-004", "content": {"parts": [{"text": "b"}]},
                                   "taskType": "RETRIEVAL_DOCUMENT", "outputDimensionality": 64}
    out = t.batch_embed_response({"embeddings": [{"values": [0.1]}, {"values": [0.2]}]}, "e", 5)
    assert [d.embedding for d in out.data] == [[0.1], [0.2]] and out.usage.prompt_tokens == 5

    vertex = t.vertex_predict_request(request, None)
    assert vertex == {"instances": [{"content": "a"}, {"content": "b"}], "parameters": {"outputDimensionality": 64}}
    out = t.vertex_predict_response({"predictions": [
        {"embeddings": {"values": [1.0], "statistics": {"token_count": 3, "truncated": False}}},
        {"embeddings": {"values": [2.0], "statistics": {"token_count": 4, "truncated": False}}},
    ]}, "e")
    assert [d.index for d in out.data] == [0, 1] and out.usage.total_tokens == 7
    with pytest.raises(InvalidRequest):
        t.batch_embed_request(EmbeddingsRequest(model="e", input=[[1, 2]]), "e", None)
