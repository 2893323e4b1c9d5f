"""Pure unit tests of the OpenAI -> Mistral, AI21, Databricks, Snowflake and TEI translators."""

from __future__ import annotations

import pytest

from llm_mesh.errors import UpstreamError

from llm_mesh.errors import InvalidRequest
from llm_mesh.providers.ai21 import translate_openai_ai21 as ai21
from llm_mesh.providers.databricks import translate_openai_databricks as databricks
from llm_mesh.providers.huggingface import translate_openai_huggingface as tei
from llm_mesh.providers.huggingface.errors import is_context_overflow
from llm_mesh.providers.mistral import translate_openai_mistral as mistral
from llm_mesh.providers.snowflake import translate_openai_snowflake as snowflake
from llm_mesh.wire.openai_chat import ChatCompletionRequest
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest

TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]


def req(**extra):
    return ChatCompletionRequest.model_validate({"model": "m", "messages": [{"role": "user", "content": "x"}], **extra})


def test_mistral_body():
    body = mistral.chat_request_body(req(seed=3, tools=TOOLS, tool_choice="required", top_logprobs=None, user="u",
                                         frequency_penalty=0.1, n=2), stream=False, safe_prompt=False)
    assert body == {"model": "m", "messages": [{"role": "user", "content": "x"}], "random_seed": 3, "tools": TOOLS,
                    "tool_choice": "any", "frequency_penalty": 0.1, "n": 2}
    named = {"type": "function", "function": {"name": "f"}}
    assert mistral.chat_request_body(req(tools=TOOLS, tool_choice=named), stream=True, safe_prompt=True)[
        "tool_choice"] == named
    assert mistral.embeddings_request_body(EmbeddingsRequest(model="codestral-embed", input="a", dimensions=256)) == {
        "model": "codestral-embed", "input": "a", "output_dimension": 256}


def test_mistral_keeps_tool_message_fields():
    request = ChatCompletionRequest.model_validate({"model": "m", "messages": [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "abcdefghi", "type": "function",
                                                              "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "abcdefghi", "content": "42"}]})
    messages = mistral.chat_request_body(request, stream=False, safe_prompt=False)["messages"]
    assert messages[1]["tool_calls"][0]["id"] == "abcdefghi"
    assert messages[2] == {"role": "tool", "tool_call_id": "abcdefghi", "content": "42"}


def test_ai21_body_and_rejections():
    body = ai21.chat_request_body(req(stream=True, stream_options={"include_usage": True}, logprobs=True),
                                  stream=True)
    assert body == {"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": True}
    with pytest.raises(InvalidRequest):
        ai21.chat_request_body(req(tools=TOOLS, tool_choice={"type": "function", "function": {"name": "f"}}),
                               stream=False)
    with pytest.raises(InvalidRequest):
        ai21.chat_request_body(ChatCompletionRequest.model_validate({"model": "m", "messages": [{"role": "user",
            "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]}), stream=False)


def test_databricks_bodies():
    assert databricks.path("invocations", "my ep", "chat/completions") == "/serving-endpoints/my%20ep/invocations"
    assert databricks.path("openai", "ep", "embeddings") == "/serving-endpoints/embeddings"
    body = databricks.chat_request_body(req(), "invocations", "ep", stream=True)
    assert "model" not in body and "stream_options" not in body and body["stream"] is True
    assert databricks.chat_request_body(req(), "openai", "ep", stream=False)["model"] == "ep"
    assert databricks.embeddings_request_body(EmbeddingsRequest(model="e", input=["a"]), "openai", "ep") == {
        "model": "ep", "input": ["a"]}


def test_snowflake_jwt_pieces():
    assert snowflake.jwt_account("xy12345.us-east-2.aws") == "XY12345"
    claims = snowflake.keypair_claims("myorg-acct", "bob", "SHA256:abc", 100, 3600)
    assert claims == {"iss": "MYORG-ACCT.BOB.SHA256:abc", "sub": "MYORG-ACCT.BOB", "iat": 100, "exp": 3700}
    token = snowflake.encode_jwt(claims, lambda data: b"sig")
    assert token.count(".") == 2 and token.endswith(".c2ln")
    assert snowflake.account_url("MyOrg-Acct") == "https://myorg-acct.snowflakecomputing.com"


def test_tei_translation():
    request = EmbeddingsRequest(model="bge", input="hello", dimensions=2)
    assert tei.tei_embed_body(request, normalize=False) == {"inputs": ["hello"], "normalize": False, "truncate": False}
    result = tei.tei_embed_response([[1, 2, 3]], request)
    assert result.data[0].embedding == [1.0, 2.0] and result.model == "bge"
    with pytest.raises(UpstreamError):  # an answer the mesh cannot read is the upstream's fault: 502
        tei.tei_embed_response({"error": "x"}, request)
    assert is_context_overflow("Input validation error: `inputs` must have less than 512 tokens. Given: 600")
    assert not is_context_overflow("`temperature` must be strictly positive")
