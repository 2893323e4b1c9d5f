"""Custom regex patterns declared in the policy config."""

from __future__ import annotations

import re
from dataclasses import dataclass

from llm_mesh.policy.detectors.base import ScanContext
from llm_mesh.policy.findings import Finding


@dataclass(frozen=True)
class CustomPattern:
    entity_type: str
    pattern: re.Pattern[str]
    group: int = 0
    score: float = 0.8


class CustomPatternDetector:
    name = "custom"
    optional = False

    def __init__(self, patterns: list[CustomPattern]) -> None:
        self.patterns = tuple(patterns)
        self.entity_types = tuple(dict.fromkeys(p.entity_type for p in patterns))

    def detect(self, ctx: ScanContext) -> list[Finding]:
        out: list[Finding] = []
        for p in self.patterns:
            for m in p.pattern.finditer(ctx.text):
                s, e = m.span(p.group)
                if s >= 0 and e > s:
                    out.append(Finding(s, e, p.entity_type, p.score, self.name))
        return out
