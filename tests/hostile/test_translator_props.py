"""Property tests on the translators: hostile request and upstream-response shapes.

For any JSON a client may send, validation then every outbound translator either produces a body or
raises a MeshError (a 4xx the client can read); for any JSON an upstream may answer, every response
translator produces an answer or raises a MeshError (a 502). Nothing else escapes, nothing hangs
(hypothesis deadline), and the output stays within a fixed multiple of the input.
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from llm_mesh.errors import MeshError
from llm_mesh.http.body import validate
from llm_mesh.inbound.anthropic import parse_messages_request, to_anthropic_message
from llm_mesh.providers.ai21 import translate_openai_ai21 as ai21
from llm_mesh.providers.anthropic import translate_openai_anthropic as anthropic
from llm_mesh.providers.anthropic.options import AnthropicOptions
from llm_mesh.providers.azure_openai import translate_openai_azure_openai as azure
from llm_mesh.providers.bedrock import translate_openai_bedrock_converse as bedrock
from llm_mesh.providers.bedrock import translate_openai_bedrock_embeddings as bedrock_embed
from llm_mesh.providers.cohere import translate_openai_cohere as cohere
from llm_mesh.providers.databricks import translate_openai_databricks as databricks
from llm_mesh.providers.gemini import translate_openai_gemini as gemini
from llm_mesh.providers.huggingface import translate_openai_huggingface as hf
from llm_mesh.providers.mistral import translate_openai_mistral as mistral
from llm_mesh.providers.openai import translate_openai_openai as openai_t
from llm_mesh.providers.sagemaker import translate_openai_sagemaker as sagemaker
from llm_mesh.providers.snowflake import translate_openai_snowflake as snowflake
from llm_mesh.wire.openai_chat import ChatCompletionRequest
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest
from tests.hostile.common import budget

# ------------------------------------------------------------------ strategies

HOSTILE_TEXT = st.one_of(
    st.text(max_size=200),
    st.sampled_from(["", "\x00", "\ud7ff\ue000", "[EMAIL_1]", "A" * 5000, "\u202e\u0301" * 50, "}]\"{", "data: [DONE]"]),
)
NUMBERS = st.one_of(st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from([10**30, -1, 0, 1e308, 2**63]))
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, HOSTILE_TEXT)
JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                    max_leaves=20)
ROLES = st.sampled_from(["system", "developer", "user", "assistant", "tool", "function", "wizard"])
PART = st.one_of(
    st.fixed_dictionaries({"type": st.just("text"), "text": HOSTILE_TEXT}),
    st.fixed_dictionaries({"type": st.just("image_url"),
                           "image_url": st.fixed_dictionaries({"url": st.sampled_from(
                               ["data:image/png;base64,iVBORw0KGgo=", "http://169.254.169.254/latest", "file:///etc/passwd",
                                "data:;base64,@@@", "https://example.com/x.png"])})}),
    JSON,
)
TOOL_CALL = st.fixed_dictionaries({"id": HOSTILE_TEXT, "type": st.just("function"),
                                   "function": st.fixed_dictionaries({"name": HOSTILE_TEXT, "arguments": HOSTILE_TEXT})})
MESSAGE = st.fixed_dictionaries(
    {"role": ROLES},
    optional={"content": st.one_of(HOSTILE_TEXT, st.lists(PART, max_size=4), JSON), "name": HOSTILE_TEXT,
              "tool_calls": st.lists(TOOL_CALL, max_size=3), "tool_call_id": HOSTILE_TEXT},
)
TOOL = st.fixed_dictionaries({"type": st.just("function"), "function": st.fixed_dictionaries(
    {"name": HOSTILE_TEXT}, optional={"description": HOSTILE_TEXT, "parameters": JSON})})
CHAT_BODY = st.one_of(
    st.fixed_dictionaries(
        {"model": HOSTILE_TEXT, "messages": st.lists(MESSAGE, min_size=1, max_size=5)},
        optional={"temperature": NUMBERS, "top_p": NUMBERS, "max_tokens": NUMBERS, "n": NUMBERS, "stop": JSON,
                  "tools": st.lists(TOOL, max_size=3), "tool_choice": JSON, "response_format": JSON,
                  "stream": st.booleans(), "seed": NUMBERS, "logit_bias": JSON, "user": HOSTILE_TEXT,
                  "metadata": JSON, "base_url": HOSTILE_TEXT, "api_base": HOSTILE_TEXT},
    ),
    JSON,
)
EMBED_BODY = st.one_of(
    st.fixed_dictionaries({"model": HOSTILE_TEXT, "input": st.one_of(HOSTILE_TEXT, st.lists(HOSTILE_TEXT, max_size=4),
                                                                    st.lists(NUMBERS, max_size=5), JSON)},
                          optional={"dimensions": NUMBERS, "encoding_format": JSON, "user": HOSTILE_TEXT}),
    JSON,
)


def _size(value: Any) -> int:
    if hasattr(value, "model_dump_json"):
        return len(value.model_dump_json())
    if isinstance(value, (bytes, str)):
        return len(value)
    return len(json.dumps(value, default=str))


def _bounded(output: Any, given_input: Any) -> None:
    limit = 20 * len(json.dumps(given_input, default=str)) + 20_000
    assert _size(output) <= limit, f"output {_size(output)} chars for an input of {len(json.dumps(given_input, default=str))}"


def _run(fn: Callable[[], Any], given_input: Any, documented: tuple[type[Exception], ...] = ()) -> None:
    started = time.perf_counter()
    try:
        output = fn()
    except documented:
        return
    except MeshError as error:
        assert error.status < 600 and error.message
        return
    finally:
        assert time.perf_counter() - started < 2.0
    _bounded(output, given_input)


CHAT_TRANSLATORS: dict[str, Callable[[ChatCompletionRequest], Any]] = {
    "openai": lambda r: openai_t.chat_request_body(r, stream=bool(r.stream)),
    "anthropic": lambda r: anthropic.chat_request_body(r, AnthropicOptions(), stream=False),
    "azure": lambda r: azure.chat_request_body(r, "dep", stream=False),
    "bedrock": lambda r: bedrock.converse_request(r),
    "cohere": lambda r: cohere.chat_request_body(r, stream=False),
    "gemini": lambda r: gemini.chat_request_body(r),
    "mistral": lambda r: mistral.chat_request_body(r, stream=False, safe_prompt=False),
    "ai21": lambda r: ai21.chat_request_body(r, stream=False),
    "databricks": lambda r: databricks.chat_request_body(r, "serving", "ep", stream=False),
    "snowflake": lambda r: snowflake.chat_request_body(r, stream=False),
    "sagemaker-vllm": lambda r: sagemaker.vllm_request(r, stream=False),
}

EMBED_TRANSLATORS: dict[str, Callable[[EmbeddingsRequest], Any]] = {
    "openai": lambda r: openai_t.embeddings_request_body(r, send_dimensions=True),
    "azure": lambda r: azure.embeddings_request_body(r, "dep"),
    "cohere": lambda r: cohere.embed_request_body(r, "search_document"),
    "gemini": lambda r: gemini.batch_embed_request(r, "text-embedding-004", None),
    "vertex": lambda r: gemini.vertex_predict_request(r, None),
    "mistral": lambda r: mistral.embeddings_request_body(r),
    "databricks": lambda r: databricks.embeddings_request_body(r, "serving", "ep"),
    "tei": lambda r: hf.tei_embed_body(r, normalize=True),
    "bedrock-texts": lambda r: bedrock_embed.texts_of(r),
}

RESPONSE_TRANSLATORS: dict[str, Callable[[Any], Any]] = {
    "openai": lambda d: openai_t.chat_response(d),
    "openai-chunk": lambda d: openai_t.chat_chunk(d),
    "openai-embed": lambda d: openai_t.embeddings_response(d),
    "anthropic": lambda d: anthropic.chat_response(d),
    "bedrock": lambda d: bedrock.converse_response(d, model="m", response_id="r"),
    "bedrock-titan": lambda d: bedrock_embed.titan_result(d),
    "bedrock-cohere": lambda d: bedrock_embed.cohere_result(d, 2),
    "cohere": lambda d: cohere.chat_response(d, "m"),
    "cohere-embed": lambda d: cohere.embed_response(d, "m"),
    "gemini": lambda d: gemini.chat_response(d, "m"),
    "gemini-embed": lambda d: gemini.batch_embed_response(d, "m", 1),
    "vertex-embed": lambda d: gemini.vertex_predict_response(d, "m"),
    "sagemaker-generate": lambda d: sagemaker.generate_response(d, model="m", prompt="p"),
    "sagemaker-vllm": lambda d: sagemaker.vllm_response(d),
}

UPSTREAM_DATA = st.one_of(
    JSON,
    st.fixed_dictionaries({}, optional={
        "id": HOSTILE_TEXT, "choices": st.lists(JSON, max_size=3), "usage": JSON, "content": st.lists(JSON, max_size=3),
        "output": JSON, "message": JSON, "candidates": st.lists(JSON, max_size=3), "embeddings": JSON, "data": JSON,
        "stop_reason": JSON, "stopReason": JSON, "finish_reason": JSON, "generated_text": HOSTILE_TEXT,
        "predictions": JSON, "embedding": JSON, "model": HOSTILE_TEXT}),
)


@pytest.mark.parametrize("name", sorted(CHAT_TRANSLATORS))
def test_chat_translators_on_hostile_requests(name):
    translate = CHAT_TRANSLATORS[name]

    @budget(full=200, short=25)
    @given(body=CHAT_BODY)
    def run(body: Any) -> None:
        try:
            request = validate(ChatCompletionRequest, body)
        except MeshError as error:
            assert error.status == 400
            return
        _run(lambda: translate(request), body)

    run()


@pytest.mark.parametrize("name", sorted(EMBED_TRANSLATORS))
def test_embeddings_translators_on_hostile_requests(name):
    translate = EMBED_TRANSLATORS[name]

    @budget(full=150, short=20)
    @given(body=EMBED_BODY)
    def run(body: Any) -> None:
        try:
            request = validate(EmbeddingsRequest, body)
        except MeshError as error:
            assert error.status == 400
            return
        _run(lambda: translate(request), body)

    run()


# The openai-compatible wire parsers document pydantic's ValidationError: their providers turn it
# into a 502 (providers/openai/provider.py). Every other translator must raise MeshError only.
DOCUMENTED: dict[str, tuple[type[Exception], ...]] = {
    "openai": (ValidationError,), "openai-chunk": (ValidationError,), "openai-embed": (ValidationError,),
}

# Found by the properties below (they crashed with a 500 before response translators were guarded);
# test_former_translator_crashes keeps each one a clean UpstreamError (502).
KNOWN_CRASHES: dict[str, tuple[Callable[[Any], Any], Any, str]] = {
    "gemini": (RESPONSE_TRANSLATORS["gemini"], {"candidates": [None]}, "AttributeError on a null candidate"),
    "gemini-embed": (RESPONSE_TRANSLATORS["gemini-embed"], {"embeddings": [None]}, "AttributeError on a null embedding"),
    "bedrock-cohere": (RESPONSE_TRANSLATORS["bedrock-cohere"], {"embeddings": [None, None]},
                       "TypeError on null vectors"),
    "bedrock": (RESPONSE_TRANSLATORS["bedrock"], {"output": [None]}, "AttributeError when output is a list"),
    "cohere": (RESPONSE_TRANSLATORS["cohere"], {"message": {}, "finish_reason": [None]},
               "AttributeError on a non-string finish_reason"),
    "bedrock-titan": (RESPONSE_TRANSLATORS["bedrock-titan"], {"embedding": [None]}, "TypeError on a null component"),
}


@pytest.mark.parametrize("name", sorted(RESPONSE_TRANSLATORS))
def test_response_translators_on_hostile_upstream_data(name):
    translate = RESPONSE_TRANSLATORS[name]

    @budget(full=200, short=25)
    @given(data=UPSTREAM_DATA)
    def run(data: Any) -> None:
        _run(lambda: translate(data), data, DOCUMENTED.get(name, ()))

    run()


def test_tei_token_input_is_a_client_error():
    request = validate(EmbeddingsRequest, {"model": "m", "input": [1, 2, 3]})
    with pytest.raises(MeshError) as caught:
        EMBED_TRANSLATORS["tei"](request)
    assert caught.value.status == 400 and caught.value.param == "input"


@pytest.mark.parametrize("name", sorted(KNOWN_CRASHES))
def test_former_translator_crashes(name):
    translate, data, _ = KNOWN_CRASHES[name]
    with pytest.raises(MeshError) as caught:
        translate(data)
    assert caught.value.status == 502


ANTHROPIC_BODY = st.one_of(
    st.fixed_dictionaries(
        {"model": HOSTILE_TEXT, "max_tokens": NUMBERS,
         "messages": st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system", "x"]),
                                                     "content": st.one_of(HOSTILE_TEXT, st.lists(JSON, max_size=3))}),
                              max_size=4)},
        optional={"system": st.one_of(HOSTILE_TEXT, st.lists(JSON, max_size=2)), "tools": st.lists(JSON, max_size=2),
                  "tool_choice": JSON, "stop_sequences": JSON, "stream": st.booleans(), "metadata": JSON,
                  "temperature": NUMBERS, "thinking": JSON}),
    JSON,
)


def test_inbound_anthropic_parse_on_hostile_bodies():
    @budget(full=300, short=30)
    @given(body=ANTHROPIC_BODY)
    def run(body: Any) -> None:
        _run(lambda: parse_messages_request(body), body)

    run()


def test_inbound_anthropic_answer_translation_on_hostile_upstream_answers():
    @budget(full=200, short=25)
    @given(data=UPSTREAM_DATA)
    def run(data: Any) -> None:
        try:
            completion = openai_t.chat_response(data)
        except (MeshError, ValidationError):
            return
        _run(lambda: to_anthropic_message(completion, "claude"), data)

    run()
