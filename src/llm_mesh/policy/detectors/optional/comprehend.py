"""Amazon Comprehend DetectPiiEntities as an optional detector (names, addresses, ...)."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from llm_mesh.policy.detectors.optional.remote import RemoteDetector


class ComprehendPiiDetector(RemoteDetector):
    name = "comprehend"
    max_chars = 20_000  # DetectPiiEntities takes up to 100 KB of UTF-8; 20k characters stays under it

    def __init__(self, client: Any, *, language: str = "en", entity_types: Sequence[str] | None = None, min_score: float = 0.5) -> None:
        super().__init__(entity_types, min_score)
        self.client = client
        self.language = language

    def _spans(self, text: str) -> Iterable[tuple[int, int, str, float]]:
        if not text.strip():
            return []
        response = self.client.detect_pii_entities(Text=text, LanguageCode=self.language)
        return [(e["BeginOffset"], e["EndOffset"], e["Type"], e.get("Score", 1.0)) for e in response.get("Entities", [])]
