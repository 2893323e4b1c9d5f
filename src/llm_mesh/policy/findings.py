"""Findings, entity types and their categories.

A finding is a span of the scanned text; it never stores the value itself
(``text[f.start:f.end]`` gives it), so findings can be logged or audited as-is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Entity types produced by the built-in detectors.
EMAIL = "EMAIL"
PHONE = "PHONE"
CREDIT_CARD = "CREDIT_CARD"
IBAN = "IBAN"
IP_ADDRESS = "IP_ADDRESS"
US_SSN = "US_SSN"
FR_NIR = "FR_NIR"
ES_DNI = "ES_DNI"
IT_FISCAL_CODE = "IT_FISCAL_CODE"
GB_NINO = "GB_NINO"
GB_NHS = "GB_NHS"
DE_IDNR = "DE_IDNR"
AWS_ACCESS_KEY_ID = "AWS_ACCESS_KEY_ID"
AWS_SECRET_ACCESS_KEY = "AWS_SECRET_ACCESS_KEY"
OPENAI_API_KEY = "OPENAI_API_KEY"
ANTHROPIC_API_KEY = "ANTHROPIC_API_KEY"
GITHUB_TOKEN = "GITHUB_TOKEN"
SLACK_TOKEN = "SLACK_TOKEN"
GOOGLE_API_KEY = "GOOGLE_API_KEY"
PRIVATE_KEY = "PRIVATE_KEY"
JWT = "JWT"
GENERIC_SECRET = "GENERIC_SECRET"
DENY_TERM = "DENY_TERM"

NATIONAL_ID_TYPES = (US_SSN, FR_NIR, ES_DNI, IT_FISCAL_CODE, GB_NINO, GB_NHS, DE_IDNR)
SECRET_TYPES = (
    AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY,
    OPENAI_API_KEY,
    ANTHROPIC_API_KEY,
    GITHUB_TOKEN,
    SLACK_TOKEN,
    GOOGLE_API_KEY,
    PRIVATE_KEY,
    JWT,
    GENERIC_SECRET,
)
BUILTIN_TYPES = (EMAIL, PHONE, CREDIT_CARD, IBAN, IP_ADDRESS, DENY_TERM) + NATIONAL_ID_TYPES + SECRET_TYPES

# Categories let a policy set one action for a family ("SECRET": block).
CATEGORY_SECRET = "SECRET"
CATEGORY_NATIONAL_ID = "NATIONAL_ID"
CATEGORIES: dict[str, tuple[str, ...]] = {
    CATEGORY_SECRET: SECRET_TYPES,
    CATEGORY_NATIONAL_ID: NATIONAL_ID_TYPES,
}
CATEGORY_OF: dict[str, str] = {t: c for c, types in CATEGORIES.items() for t in types}

# Tie-breaker when two findings overlap with the same length (higher wins).
PRIORITY: dict[str, int] = {
    PRIVATE_KEY: 100,
    AWS_SECRET_ACCESS_KEY: 95,
    ANTHROPIC_API_KEY: 95,
    OPENAI_API_KEY: 94,
    GITHUB_TOKEN: 94,
    SLACK_TOKEN: 94,
    GOOGLE_API_KEY: 94,
    AWS_ACCESS_KEY_ID: 94,
    JWT: 90,
    GENERIC_SECRET: 85,
    CREDIT_CARD: 80,
    IBAN: 80,
    US_SSN: 75,
    FR_NIR: 74,
    IT_FISCAL_CODE: 74,
    ES_DNI: 74,
    GB_NINO: 74,
    GB_NHS: 70,
    DE_IDNR: 70,
    EMAIL: 65,
    DENY_TERM: 60,
    PHONE: 40,
    IP_ADDRESS: 30,
}
DEFAULT_PRIORITY = 50


def priority_of(entity_type: str) -> int:
    return PRIORITY.get(entity_type, DEFAULT_PRIORITY)


def category_of(entity_type: str) -> str | None:
    return CATEGORY_OF.get(entity_type)


@dataclass(frozen=True, slots=True, order=True)
class Finding:
    """One detected entity: ``text[start:end]`` in the scanned text."""

    start: int
    end: int
    entity_type: str
    score: float = 1.0
    detector: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not (0 <= self.start < self.end):
            raise ValueError(f"invalid finding span {self.start}..{self.end}")

    @property
    def confidence(self) -> float:
        return self.score

    def __len__(self) -> int:
        return self.end - self.start

    def value(self, text: str) -> str:
        return text[self.start : self.end]


def group_overlaps(findings: list[Finding]) -> list[list[Finding]]:
    """Split findings into groups of transitively overlapping spans, in text order."""
    ordered = sorted(findings, key=lambda f: (f.start, -f.end, f.entity_type))
    groups: list[list[Finding]] = []
    group_end = -1
    for f in ordered:
        if groups and f.start < group_end:
            groups[-1].append(f)
            group_end = max(group_end, f.end)
        else:
            groups.append([f])
            group_end = f.end
    return groups


def winner_key(f: Finding) -> tuple:
    return (-(f.end - f.start), -priority_of(f.entity_type), -f.score, f.start, f.entity_type)


def resolve_overlaps(findings: list[Finding]) -> list[tuple[int, int, Finding]]:
    """Group overlapping findings; each group yields ``(start, end, winner)``.

    The group's span is the union of its members (so no part of an overlapping
    finding leaks), and the winner - longest span, then highest priority, then
    highest score, then earliest start, then type name - gives the group its
    type. Deterministic for any input order.
    """
    return [
        (members[0].start, max(m.end for m in members), min(members, key=winner_key))
        for members in group_overlaps(findings)
    ]
