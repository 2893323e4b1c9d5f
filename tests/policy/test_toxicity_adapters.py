"""The AWS toxicity classifiers through real boto3 clients against loopback fakes of Comprehend
DetectToxicContent and Bedrock Runtime ApplyGuardrail, and the screen's threshold, categories
and fail modes on top of them."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config

from llm_mesh.aws.toxicity import BedrockGuardrailToxicity, ComprehendToxicity
from llm_mesh.policy.actions import InMemoryAlertSink, PolicyCheckFailed
from llm_mesh.policy.toxicity import ToxicityConfig, WordListClassifier
from llm_mesh.policy.toxicity_screen import ToxicityScreen, ToxicOutputBlocked
from tests.fakes.aws_eventstream import serving
from tests.fakes.aws_toxicity import ComprehendFake, GuardrailFake
from tests.fixtures.dynamodb_local import DUMMY_CREDENTIALS


def _client(service: str, url: str):
    return boto3.session.Session(**DUMMY_CREDENTIALS).client(
        service, endpoint_url=url, config=Config(retries={"max_attempts": 1}))


@pytest.fixture(scope="module")
def comprehend():
    with serving(ComprehendFake()) as fake:
        yield fake


@pytest.fixture(scope="module")
def guardrail():
    with serving(GuardrailFake()) as fake:
        yield fake


def _screen(classifier, **options) -> tuple[ToxicityScreen, InMemoryAlertSink]:
    sink = InMemoryAlertSink()
    config = ToxicityConfig(kind="local", **options)
    return ToxicityScreen("support", config, classifier, fail_mode="open", alert_sink=sink, context={"app": "a"}), sink


def test_comprehend_scores_a_toxic_answer_per_category(comprehend):
    classifier = ComprehendToxicity(_client("comprehend", comprehend.url))
    scores = classifier.classify("Honestly, you are an idiot.")
    assert scores.categories["INSULT"] == pytest.approx(0.93) and scores.overall == pytest.approx(0.93)
    request = comprehend.requests[-1]
    assert request.headers["x-amz-target"] == "Comprehend_20171127.DetectToxicContent"
    assert request.json() == {"TextSegments": [{"Text": "Honestly, you are an idiot."}], "LanguageCode": "en"}
    assert classifier.classify("The weather is mild today.").fired(0.5, None) == {}


def test_comprehend_long_answers_go_in_1kb_segments_10_per_call(comprehend):
    classifier = ComprehendToxicity(_client("comprehend", comprehend.url))
    comprehend.segments_seen.clear()
    before = len(comprehend.requests)
    text = ("Ünïcödé prose keeps going on without end. " * 400) + "And then: you moron."
    scores = classifier.classify(text)
    assert scores.categories["INSULT"] == pytest.approx(0.88)  # the last segment's insult is the worst score
    assert "".join(comprehend.segments_seen) == text  # nothing dropped, nothing repeated
    assert all(len(s.encode()) <= 1000 for s in comprehend.segments_seen)
    assert len(comprehend.requests) - before == -(-len(comprehend.segments_seen) // 10)


def test_bedrock_guardrail_on_the_output_maps_filters_and_words(guardrail):
    classifier = BedrockGuardrailToxicity(guardrail.guardrail_id, "3", _client("bedrock-runtime", guardrail.url))
    scores = classifier.classify("Those people are vermin and I will kill them.")
    assert scores.categories == {"HATE_SPEECH": 0.9, "VIOLENCE_OR_THREAT": 0.9}
    request = guardrail.requests[-1]
    assert request.path == f"/guardrail/{guardrail.guardrail_id}/version/3/apply"
    assert request.json()["source"] == "OUTPUT"
    assert request.json()["content"] == [{"text": {"text": "Those people are vermin and I will kill them."}}]
    assert classifier.classify("Please frobnicate the widget.").categories == {"PROFANITY": 1.0}
    assert classifier.classify("A calm, factual answer.").overall == 0.0


def test_threshold_and_categories_decide_what_fires(comprehend):
    classifier = ComprehendToxicity(_client("comprehend", comprehend.url))
    screen, sink = _screen(classifier, action="block", threshold=0.9)
    screen.check("you moron")  # INSULT 0.88 < 0.9
    with pytest.raises(ToxicOutputBlocked) as info:
        screen.check("you idiot")
    assert info.value.code == "toxic_output" and "idiot" not in info.value.message
    only_violence, _ = _screen(classifier, action="block", threshold=0.5, categories=["VIOLENCE_OR_THREAT"])
    only_violence.check("you idiot")  # an insult, not a category this policy screens
    assert only_violence.record.fired == {} and only_violence.record.checked == 1
    assert sink.events[-1].counts == {"INSULT": 1} and sink.events[-1].blocked


def test_alert_lets_the_answer_through_and_raises_a_value_free_alert():
    screen, sink = _screen(WordListClassifier({"INSULT": ["nitwit"]}), action="alert")
    screen.check("What a nitwit answer.")
    assert screen.record.fired == {"INSULT": 1.0} and not screen.record.blocked
    event = sink.events[0].to_dict()
    assert event["direction"] == "output" and event["counts"] == {"INSULT": 1} and "nitwit" not in str(event)


@pytest.mark.parametrize("which", ["comprehend", "guardrail"])
def test_a_failing_classifier_fails_open_or_closed_as_the_policy_says(comprehend, guardrail, which):
    classifier = (ComprehendToxicity(_client("comprehend", comprehend.url)) if which == "comprehend"
                  else BedrockGuardrailToxicity(guardrail.guardrail_id, "DRAFT", _client("bedrock-runtime", guardrail.url)))
    open_screen, _ = _screen(classifier, action="block")
    open_screen.check("idiot [unavailable]")
    assert open_screen.record.errors == 1 and not open_screen.record.blocked
    closed, _ = _screen(classifier, action="block", fail_mode="closed")
    with pytest.raises(PolicyCheckFailed) as info:
        closed.check("idiot [unavailable]")
    assert info.value.status == 503 and info.value.code == "policy_check_unavailable"


def test_an_unknown_guardrail_is_a_failure_not_a_pass(guardrail):
    classifier = BedrockGuardrailToxicity("nosuchguardrail", "DRAFT", _client("bedrock-runtime", guardrail.url))
    closed, _ = _screen(classifier, action="block", fail_mode="closed")
    with pytest.raises(PolicyCheckFailed):
        closed.check("anything at all")
