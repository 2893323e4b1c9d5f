"""What every remote detector shares: type mapping, score and type filters, chunking."""

from __future__ import annotations

from typing import Iterable, Sequence

from llm_mesh.policy.detectors.base import ScanContext
from llm_mesh.policy.findings import Finding

COMMON_TYPES = {
    "EMAIL": "EMAIL", "EMAIL_ADDRESS": "EMAIL", "PHONE": "PHONE", "PHONE_NUMBER": "PHONE",
    "CREDIT_DEBIT_NUMBER": "CREDIT_CARD", "CREDIT_CARD": "CREDIT_CARD", "SSN": "US_SSN", "US_SOCIAL_SECURITY_NUMBER": "US_SSN",
    "US_SSN": "US_SSN", "IBAN_CODE": "IBAN", "INTERNATIONAL_BANK_ACCOUNT_NUMBER": "IBAN", "IP_ADDRESS": "IP_ADDRESS",
    "NAME": "PERSON", "PERSON": "PERSON", "ADDRESS": "ADDRESS", "LOCATION": "ADDRESS",
    "AWS_ACCESS_KEY": "AWS_ACCESS_KEY_ID", "AWS_SECRET_KEY": "AWS_SECRET_ACCESS_KEY",
}


def mesh_type(raw: str) -> str:
    name = raw.upper().replace("-", "_").replace(" ", "_")
    return COMMON_TYPES.get(name, name)


class RemoteDetector:
    """Shared plumbing: type mapping, score/type filters, chunking long texts."""

    name = "remote"
    optional = True
    entity_types: tuple[str, ...] = ()
    max_chars = 20_000

    def __init__(self, entity_types: Sequence[str] | None = None, min_score: float = 0.5) -> None:
        self.keep = {t.upper() for t in entity_types} if entity_types else None
        self.min_score = min_score
        self.entity_types = tuple(sorted(self.keep)) if self.keep else ()

    def _spans(self, text: str) -> Iterable[tuple[int, int, str, float]]:
        raise NotImplementedError

    def detect(self, ctx: ScanContext) -> list[Finding]:
        text = ctx.text
        out = []
        for offset in range(0, len(text), self.max_chars):
            chunk = text[offset: offset + self.max_chars]
            for start, end, raw_type, score in self._spans(chunk):
                etype = mesh_type(raw_type)
                if score < self.min_score or (self.keep is not None and etype not in self.keep):
                    continue
                if 0 <= start < end <= len(chunk):
                    out.append(Finding(offset + start, offset + end, etype, float(score), self.name))
        return out
