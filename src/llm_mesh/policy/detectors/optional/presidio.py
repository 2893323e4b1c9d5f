"""Microsoft Presidio (presidio-analyzer) as an optional, in-process detector.

Not a dependency of the mesh: install ``presidio-analyzer`` and a spaCy model to use
it. Without them every scan fails, and the policy's fail_mode decides."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from llm_mesh.policy.detectors.optional.remote import RemoteDetector


class PresidioDetector(RemoteDetector):
    name = "presidio"
    max_chars = 100_000

    def __init__(self, *, language: str = "en", entity_types: Sequence[str] | None = None, min_score: float = 0.5, analyzer: Any = None) -> None:
        super().__init__(entity_types, min_score)
        self.language = language
        self._analyzer = analyzer

    def _engine(self) -> Any:
        if self._analyzer is None:
            from presidio_analyzer import AnalyzerEngine

            self._analyzer = AnalyzerEngine()
        return self._analyzer

    def _spans(self, text: str) -> Iterable[tuple[int, int, str, float]]:
        results = self._engine().analyze(text=text, language=self.language)
        return [(r.start, r.end, r.entity_type, r.score) for r in results]
