"""Toxicity screening of answers end to end through the openai SDK: a toxic answer from the
upstream fake is blocked whole or mid-stream (only sentences that passed are released), an
alert policy lets it through flagged, and on the AWS kinds the mesh calls the Comprehend and
Bedrock Guardrails fakes (with placeholders, never the caller's restored values)."""

from __future__ import annotations

import json

import openai
import pytest

from tests.fakes.aws_eventstream import serving
from tests.fakes.aws_toxicity import ComprehendFake, GuardrailFake
from tests.fakes.openai_upstream import Behaviour, start_fake_openai
from tests.harness import serve_mesh

EMAIL = "grace.hopper@example.org"


@pytest.fixture(scope="module")
def fakes():
    with start_fake_openai() as upstream, serving(ComprehendFake()) as comprehend, serving(GuardrailFake()) as guardrail:
        yield upstream, comprehend, guardrail


@pytest.fixture(scope="module")
def mesh(fakes):
    upstream, comprehend, guardrail = fakes
    aws = {"region": "us-east-1", "fail_mode": "closed"}
    routes = ("words", "alerting", "comprehend", "guardrail")
    config = {
        "providers": {"public": {"kind": "openai", "base_url": upstream.base_url, "api_key": {"env": "TOX_KEY"}}},
        "routes": {r: {"provider": "public", "model": "gpt-4o-mini"} for r in routes},
        "policies": {
            "words": {"toxicity": {"terms": {"INSULT": ["nitwit", "dimwit"]}}},
            "alerting": {"toxicity": {"action": "alert", "terms": {"INSULT": ["nitwit"]}}},
            "comprehend": {"actions": {"EMAIL": "redact"},
                           "toxicity": {"kind": "comprehend", "threshold": 0.8, "endpoint_url": comprehend.url, **aws}},
            "guardrail": {"toxicity": {"kind": "bedrock_guardrail", "guardrail_id": guardrail.guardrail_id,
                                       "endpoint_url": guardrail.url, **aws}},
        },
        "governance": {"bindings": {"routes": {r: r for r in routes}}},
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ACCESS_KEY_ID", "dummy")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "dummy")
        with serve_mesh(config, env={"TOX_KEY": "sk-tox"}) as running:
            yield running


@pytest.fixture()
def client(mesh):
    return openai.OpenAI(base_url=mesh.base_url, api_key=mesh.api_key, max_retries=0)


def _ask(client, route: str):
    return client.chat.completions.with_raw_response.create(model=route, messages=[{"role": "user", "content": "hi"}])


def test_a_toxic_answer_is_blocked_and_a_clean_one_passes(client, fakes):
    upstream = fakes[0]
    upstream.queue(Behaviour(content="Only a nitwit would ask that."))
    with pytest.raises(openai.BadRequestError) as info:
        _ask(client, "words")
    assert info.value.body["code"] == "toxic_output"
    assert "INSULT" in info.value.body["message"] and "nitwit" not in info.value.body["message"]
    upstream.queue(Behaviour(content="Paris is the capital of France."))
    assert _ask(client, "words").parse().choices[0].message.content == "Paris is the capital of France."


def test_a_streamed_toxic_answer_stops_at_the_toxic_sentence(client, fakes):
    fakes[0].queue(Behaviour(content="The first sentence is fine. The second calls you a dimwit. A third one."))
    stream = client.chat.completions.create(model="words", stream=True, messages=[{"role": "user", "content": "hi"}])
    received = []
    with pytest.raises(openai.APIError) as info:
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)
    assert "".join(received) == "The first sentence is fine. "
    assert "toxic" in str(info.value) and "dimwit" not in str(info.value)


def test_an_alert_policy_lets_the_answer_through_flagged(client, fakes):
    fakes[0].queue(Behaviour(content="What a nitwit question."))
    raw = _ask(client, "alerting")
    assert raw.parse().choices[0].message.content == "What a nitwit question."
    assert raw.headers["x-mesh-toxicity"] == "flagged"


def test_comprehend_screens_the_answer_with_placeholders_not_restored_values(client, fakes):
    upstream, comprehend, _ = fakes
    comprehend.segments_seen.clear()
    raw = client.chat.completions.with_raw_response.create(
        model="comprehend", messages=[{"role": "user", "content": f"Say hello to {EMAIL}."}])
    assert EMAIL in raw.parse().choices[0].message.content  # restored for the caller
    assert comprehend.segments_seen and not any(EMAIL in s for s in comprehend.segments_seen)
    assert any("[EMAIL_1]" in s for s in comprehend.segments_seen)
    upstream.queue(Behaviour(content="You absolute idiot."))
    with pytest.raises(openai.BadRequestError) as info:
        _ask(client, "comprehend")
    assert info.value.body["code"] == "toxic_output"
    upstream.queue(Behaviour(content="You damn well know."))  # PROFANITY 0.55 < the policy's 0.8
    assert _ask(client, "comprehend").parse().choices[0].message.content == "You damn well know."


def test_bedrock_guardrail_blocks_streamed_and_fails_closed(client, fakes):
    upstream, _, guardrail = fakes
    upstream.queue(Behaviour(content="Those people are vermin."))
    stream = client.chat.completions.create(model="guardrail", stream=True, messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.APIError) as info:
        list(stream)
    assert "toxic" in str(info.value)
    assert json.loads(guardrail.requests[-1].body)["source"] == "OUTPUT"
    upstream.queue(Behaviour(content="A fine answer [unavailable]."))
    with pytest.raises(openai.InternalServerError) as failed:
        _ask(client, "guardrail")
    assert failed.value.status_code == 503 and failed.value.body["code"] == "policy_check_unavailable"
