"""Loopback fakes of Amazon Comprehend ``DetectToxicContent`` and Bedrock Runtime ``ApplyGuardrail``,
for boto3 clients with ``endpoint_url``.

Shapes follow botocore's service models: Comprehend 2017-11-27 over awsJson1.1
(``POST /``, ``X-Amz-Target: Comprehend_20171127.DetectToxicContent``, at most 10 segments of
at most 1 KB each, 10 KB in all, errors as ``{"__type", "Message"}``); Bedrock Runtime 2023-09-30
rest-json (``POST /guardrail/{id}/version/{version}/apply``, errors with ``x-amzn-ErrorType``).

Scores are deterministic: each word of ``LEXICON`` in a text scores its category; a text
holding ``[unavailable]`` gets the service's 500.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from tests.fakes.aws_eventstream import AwsFake, Recorded, Reply, aws_error

LEXICON = {"idiot": ("INSULT", 0.93), "moron": ("INSULT", 0.88), "vermin": ("HATE_SPEECH", 0.91),
           "kill": ("VIOLENCE_OR_THREAT", 0.86), "damn": ("PROFANITY", 0.55)}
COMPREHEND_TYPES = ("GRAPHIC", "HARASSMENT_OR_ABUSE", "HATE_SPEECH", "INSULT", "PROFANITY", "SEXUAL", "VIOLENCE_OR_THREAT")
GUARDRAIL_TYPES = {"INSULT": "INSULTS", "HATE_SPEECH": "HATE", "VIOLENCE_OR_THREAT": "VIOLENCE"}
_WORD = re.compile(r"[a-z]+")


def _scores(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for word in _WORD.findall(text.lower()):
        if word in LEXICON:
            category, score = LEXICON[word]
            out[category] = max(out.get(category, 0.0), score)
    return out


def _json_error(code: str, message: str, status: int = 400) -> Reply:
    return Reply(status=status, body=json.dumps({"__type": code, "Message": message}).encode(),
                 headers={"Content-Type": "application/x-amz-json-1.1"})


@dataclass
class ComprehendFake(AwsFake):
    segments_seen: list[str] = field(default_factory=list)

    def handle(self, request: Recorded) -> Reply:
        target = request.headers.get("x-amz-target", "")
        if request.path != "/" or target != "Comprehend_20171127.DetectToxicContent":
            return _json_error("UnknownOperationException", f"unknown operation {target!r}")
        if not request.headers.get("content-type", "").startswith("application/x-amz-json-1.1"):
            return _json_error("SerializationException", "expected application/x-amz-json-1.1")
        body = request.json()
        segments = body.get("TextSegments") or []
        if body.get("LanguageCode") != "en":
            return _json_error("UnsupportedLanguageException", "toxicity detection supports English only")
        sizes = [len(s["Text"].encode("utf-8")) for s in segments]
        if not segments or len(segments) > 10 or max(sizes) > 1024 or sum(sizes) > 10 * 1024:
            return _json_error("TextSizeLimitExceededException", "up to 10 segments of 1 KB each, 10 KB in all")
        texts = [s["Text"] for s in segments]
        self.segments_seen.extend(texts)
        if any("[unavailable]" in t for t in texts):
            return _json_error("InternalServerException", "internal error", 500)
        results = []
        for text in texts:
            found = _scores(text)
            labels = [{"Name": name, "Score": found.get(name, 0.01)} for name in COMPREHEND_TYPES]
            results.append({"Labels": labels, "Toxicity": max(found.values(), default=0.02)})
        return Reply(body=json.dumps({"ResultList": results}).encode(), headers={"Content-Type": "application/x-amz-json-1.1"})


_GUARDRAIL_PATH = re.compile(r"^/guardrail/(?P<id>[^/]+)/version/(?P<version>[^/]+)/apply$")


def _band(score: float) -> str:
    return "HIGH" if score >= 0.85 else "MEDIUM" if score >= 0.6 else "LOW"


@dataclass
class GuardrailFake(AwsFake):
    guardrail_id: str = "gr7x2k9q1abc"
    custom_words: tuple[str, ...] = ("frobnicate",)

    def handle(self, request: Recorded) -> Reply:
        route = _GUARDRAIL_PATH.match(request.path)
        if route is None:
            return aws_error(404, "UnknownOperationException", "unknown path")
        if route["id"] != self.guardrail_id:
            return aws_error(404, "ResourceNotFoundException", "The guardrail identifier is not found.")
        body = request.json()
        if body.get("source") not in ("INPUT", "OUTPUT") or not isinstance(body.get("content"), list):
            return aws_error(400, "ValidationException", "source must be INPUT or OUTPUT and content a list")
        text = " ".join(block["text"]["text"] for block in body["content"] if "text" in block)
        if "[unavailable]" in text:
            return aws_error(503, "ServiceUnavailableException", "The service is temporarily unavailable.")
        found = _scores(text)
        filters = [{"type": GUARDRAIL_TYPES[c], "confidence": _band(s), "filterStrength": "HIGH", "action": "BLOCKED",
                    "detected": True} for c, s in found.items() if c in GUARDRAIL_TYPES]
        words = [{"match": w, "action": "BLOCKED", "detected": True} for w in self.custom_words if w in text.lower()]
        intervened = bool(filters or words)
        assessment: dict = {"invocationMetrics": {"guardrailProcessingLatency": 12}}
        if filters:
            assessment["contentPolicy"] = {"filters": filters}
        if words:
            assessment["wordPolicy"] = {"customWords": words, "managedWordLists": []}
        reply = {
            "usage": {"topicPolicyUnits": 0, "contentPolicyUnits": 1, "wordPolicyUnits": 1, "sensitiveInformationPolicyUnits": 0,
                      "sensitiveInformationPolicyFreeUnits": 0, "contextualGroundingPolicyUnits": 0},
            "action": "GUARDRAIL_INTERVENED" if intervened else "NONE",
            "outputs": [{"text": "Sorry, I can't share that."}] if intervened else [],
            "assessments": [assessment],
        }
        return Reply(body=json.dumps(reply).encode(), headers={"Content-Type": "application/json"})
