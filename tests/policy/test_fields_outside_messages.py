"""PII outside message text is screened: every string that leaves the mesh with a request.

Driven through the real HTTP API with the openai SDK; the echo provider answers with the
exact request it received, so each assertion is about what left the mesh.
"""

from __future__ import annotations

import json

import anthropic
import openai
import pytest

from tests.harness import serve_mesh

SSN = "536-22-8841"
EMAIL = "omar.haddad@fabrikam-mail.example"
CONFIG = {
    "providers": {"echo": {"kind": "echo"}},
    "routes": {"chat": {"provider": "echo", "model": "echo-1"}, "strict": {"provider": "echo", "model": "echo-1"}},
    "policies": {"redact": {"actions": {"EMAIL": "redact", "US_SSN": "redact"}, "restore_output": False},
                 "block": {"actions": {"US_SSN": "block"}}},
    "governance": {"bindings": {"default": "redact", "routes": {"strict": "block"}}},
    "apps": {"test": {"routes": "*", "admin": True}},
}
WEATHER = {"type": "function", "function": {
    "name": "lookup_customer",
    "description": f"Looks a customer up. Escalate to {EMAIL} when it fails.",
    "parameters": {"type": "object", "properties": {
        "id": {"type": "string", "description": f"the customer id, e.g. {SSN}", "examples": [SSN]}}},
}}


@pytest.fixture(scope="module")
def mesh():
    with serve_mesh(CONFIG) as running:
        yield running


@pytest.fixture(scope="module")
def client(mesh):
    return openai.OpenAI(base_url=mesh.base_url, api_key=mesh.api_key, max_retries=0)


def _sent(completion) -> str:
    return completion.choices[0].message.content


@pytest.mark.parametrize("where", ["user", "name", "tools", "response_format", "stop", "image_url", "tool_call",
                                   "extra_field"])
def test_pii_in_a_field_outside_message_text_never_leaves(client, where):
    messages: list[dict] = [{"role": "user", "content": "hello"}]
    kwargs: dict = {}
    if where == "user":
        kwargs["user"] = EMAIL
    elif where == "name":
        messages = [{"role": "user", "content": "hello", "name": EMAIL}]
    elif where == "tools":
        kwargs["tools"] = [WEATHER]
    elif where == "response_format":
        kwargs["response_format"] = {"type": "json_schema", "json_schema": {
            "name": "answer", "description": f"reply to {EMAIL}",
            "schema": {"type": "object", "properties": {"ssn": {"type": "string", "const": SSN}}}}}
    elif where == "stop":
        kwargs["stop"] = [EMAIL]
    elif where == "image_url":
        messages = [{"role": "user", "content": [
            {"type": "text", "text": "what is this"},
            {"type": "image_url", "image_url": {"url": f"https://img.example/a.png?owner={EMAIL}"}}]}]
    elif where == "tool_call":
        messages = [{"role": "user", "content": "look me up"},
                    {"role": "assistant", "content": None, "tool_calls": [
                        {"id": f"call_{EMAIL}", "type": "function", "function": {"name": "lookup_customer", "arguments": "{}"}}]},
                    {"role": "tool", "tool_call_id": f"call_{EMAIL}", "content": "not found"}]
    elif where == "extra_field":
        kwargs["extra_body"] = {"prediction_hint": f"customer {SSN}"}
    sent = _sent(client.chat.completions.create(model="chat", messages=messages, **kwargs))
    assert EMAIL not in sent and SSN not in sent, sent
    assert "[EMAIL_1]" in sent or "[US_SSN_1]" in sent


def test_a_redacted_tool_call_id_still_pairs_with_its_result(client):
    messages = [{"role": "user", "content": "look me up"},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": f"call_{EMAIL}", "type": "function", "function": {"name": "lookup_customer", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": f"call_{EMAIL}", "content": "not found"}]
    sent = json.loads(_sent(client.chat.completions.create(model="chat", messages=messages)))
    call_id = sent["messages"][1]["tool_calls"][0]["id"]
    assert call_id == sent["messages"][2]["tool_call_id"] and EMAIL not in call_id


def test_a_block_policy_blocks_an_ssn_in_a_tool_description(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="strict", messages=[{"role": "user", "content": "hi"}], tools=[WEATHER])
    assert info.value.code == "pii_blocked" and SSN not in info.value.message


def test_anthropic_metadata_user_id_and_tool_descriptions_are_screened(mesh):
    client = anthropic.Anthropic(base_url=mesh.root_url, api_key=mesh.api_key, max_retries=0)
    message = client.messages.create(
        model="chat", max_tokens=64, messages=[{"role": "user", "content": "hello"}],
        metadata={"user_id": EMAIL},
        tools=[{"name": "lookup_customer", "description": f"escalate to {EMAIL}",
                "input_schema": {"type": "object", "properties": {"id": {"type": "string", "description": f"e.g. {SSN}"}}}}])
    sent = message.content[0].text
    assert EMAIL not in sent and SSN not in sent and "[EMAIL_1]" in sent
