"""Amazon Bedrock Guardrails ApplyGuardrail as an optional detector.

ApplyGuardrail reports the matched text of each sensitive-information finding (PII
entity types and the guardrail's regexes) without offsets, so every occurrence of a
match in the text is a finding. Scores are 1.0 (the service gives none)."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from llm_mesh.policy.detectors.optional.remote import RemoteDetector


class BedrockGuardrailDetector(RemoteDetector):
    name = "bedrock_guardrail"

    def __init__(self, client: Any, guardrail_id: str, version: str = "DRAFT", *, entity_types: Sequence[str] | None = None, min_score: float = 0.5) -> None:
        super().__init__(entity_types, min_score)
        self.client = client
        self.guardrail_id = guardrail_id
        self.version = version

    def _spans(self, text: str) -> Iterable[tuple[int, int, str, float]]:
        if not text.strip():
            return []
        response = self.client.apply_guardrail(
            guardrailIdentifier=self.guardrail_id, guardrailVersion=self.version, source="INPUT",
            content=[{"text": {"text": text}}],
        )
        out = []
        for assessment in response.get("assessments", []):
            info = assessment.get("sensitiveInformationPolicy") or {}
            matches = [(e.get("match", ""), e.get("type", "PII")) for e in info.get("piiEntities", [])]
            matches += [(r.get("match", ""), r.get("name", "CUSTOM")) for r in info.get("regexes", [])]
            for value, etype in matches:
                if not value:
                    continue
                start = text.find(value)
                while start != -1:
                    out.append((start, start + len(value), etype, 1.0))
                    start = text.find(value, start + len(value))
        return out
