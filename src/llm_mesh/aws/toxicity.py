"""Toxicity classifiers on AWS: Amazon Comprehend ``DetectToxicContent`` and Amazon Bedrock
Guardrails ``ApplyGuardrail`` (source ``OUTPUT``), behind
:class:`~llm_mesh.policy.toxicity.ToxicityClassifier`.

The boto3 client is made on first use (building a policy never touches AWS, and a missing
SDK or credentials is a classifier failure the policy's fail mode handles); tests pass one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from llm_mesh.policy.toxicity import ToxicityScores

# DetectToxicContent: at most 10 segments of at most 1 KB (UTF-8) each per call.
SEGMENT_BYTES = 1000
SEGMENTS_PER_CALL = 10
# Guardrail content filter types -> the mesh's categories (PROMPT_ATTACK screens input only).
BEDROCK_FILTERS = {"HATE": "HATE_SPEECH", "INSULTS": "INSULT", "SEXUAL": "SEXUAL", "VIOLENCE": "VIOLENCE_OR_THREAT",
                   "MISCONDUCT": "MISCONDUCT"}
# The service reports a confidence band, not a number: each band as a score on the 0..1 scale.
BEDROCK_CONFIDENCE = {"NONE": 0.0, "LOW": 0.3, "MEDIUM": 0.6, "HIGH": 0.9}


def boto_client(service: str, region: str | None, timeout: float, endpoint_url: str | None = None) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(service, region_name=region, endpoint_url=endpoint_url,
                        config=Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 1}))


class _Lazy:
    def __init__(self, client: Any, service: str, region: str | None, timeout: float, endpoint_url: str | None) -> None:
        self._client = client
        self._args = (service, region, timeout, endpoint_url)

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = boto_client(*self._args)
        return self._client


def segments(text: str, limit: int = SEGMENT_BYTES) -> Iterator[str]:
    """``text`` in pieces of at most ``limit`` UTF-8 bytes, cut at whitespace where one is near."""
    rest = text
    while rest:
        raw = rest.encode("utf-8")
        if len(raw) <= limit:
            yield rest
            return
        cut = len(raw[:limit].decode("utf-8", "ignore"))  # whole characters only
        space = rest.rfind(" ", 0, cut)
        if space > cut // 2:
            cut = space + 1
        yield rest[:cut]
        rest = rest[cut:]


class ComprehendToxicity(_Lazy):
    name = "comprehend"
    remote = True

    def __init__(self, client: Any = None, *, language: str = "en", region: str | None = None,
                 timeout: float = 2.0, endpoint_url: str | None = None) -> None:
        super().__init__(client, "comprehend", region, timeout, endpoint_url)
        self.language = language

    def classify(self, text: str) -> ToxicityScores:
        pieces = [p for p in segments(text) if p.strip()]
        results: list[ToxicityScores] = []
        for start in range(0, len(pieces), SEGMENTS_PER_CALL):
            batch = pieces[start:start + SEGMENTS_PER_CALL]
            response = self.client.detect_toxic_content(
                TextSegments=[{"Text": p} for p in batch], LanguageCode=self.language)
            for labels in response.get("ResultList", []):
                scores = {label["Name"]: float(label.get("Score", 0.0)) for label in labels.get("Labels", [])}
                results.append(ToxicityScores(scores, float(labels.get("Toxicity", 0.0))))
        return ToxicityScores.worst(results)


class BedrockGuardrailToxicity(_Lazy):
    """The guardrail's content filters (and word filters, as PROFANITY) on the answer."""

    name = "bedrock_guardrail"
    remote = True

    def __init__(self, guardrail_id: str, version: str = "DRAFT", client: Any = None, *, region: str | None = None,
                 timeout: float = 2.0, endpoint_url: str | None = None) -> None:
        super().__init__(client, "bedrock-runtime", region, timeout, endpoint_url)
        self.guardrail_id = guardrail_id
        self.version = version

    def classify(self, text: str) -> ToxicityScores:
        if not text.strip():
            return ToxicityScores()
        response = self.client.apply_guardrail(
            guardrailIdentifier=self.guardrail_id, guardrailVersion=self.version, source="OUTPUT",
            content=[{"text": {"text": text}}],
        )
        scores: dict[str, float] = {}
        for assessment in response.get("assessments", []):
            for item in (assessment.get("contentPolicy") or {}).get("filters", []):
                category = BEDROCK_FILTERS.get(item.get("type", ""))
                if category is not None:
                    score = BEDROCK_CONFIDENCE.get(item.get("confidence", "NONE"), 0.0)
                    scores[category] = max(scores.get(category, 0.0), score)
            words = assessment.get("wordPolicy") or {}
            if words.get("customWords") or words.get("managedWordLists"):
                scores["PROFANITY"] = 1.0
        return ToxicityScores(scores, max(scores.values(), default=0.0))
