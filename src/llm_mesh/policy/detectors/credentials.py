"""API keys, tokens and cloud credentials.

Every rule has cheap literal prefilters (substring tests on the text or its
lower-cased copy) so a prompt without e.g. "AKIA" never runs that regex.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from llm_mesh.policy.detectors.base import ScanContext, shannon_entropy
from llm_mesh.policy.findings import (
    ANTHROPIC_API_KEY,
    AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY,
    GENERIC_SECRET,
    GITHUB_TOKEN,
    GOOGLE_API_KEY,
    JWT,
    OPENAI_API_KEY,
    PRIVATE_KEY,
    SLACK_TOKEN,
    Finding,
)


@dataclass(frozen=True)
class CredentialRule:
    entity_type: str
    pattern: re.Pattern[str]
    literals: tuple[str, ...]  # at least one must occur (case-sensitive unless lower=True)
    lower: bool = False
    group: int = 0
    score: float = 0.99
    check: Callable[[str], bool] | None = None
    near: tuple[str, ...] = ()  # lower-case keywords, one must occur within 40 chars before the match


def _high_entropy(value: str) -> bool:
    has_alpha = any(c.isalpha() for c in value)
    has_digit = any(c.isdigit() for c in value)
    return has_alpha and has_digit and shannon_entropy(value) >= 3.3


_W = r"(?<![A-Za-z0-9_\-])"

RULES: tuple[CredentialRule, ...] = (
    CredentialRule(
        PRIVATE_KEY,
        re.compile(
            r"-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----[\s\S]{0,20000}?-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----"
        ),
        ("PRIVATE KEY-----",),
        score=1.0,
    ),
    CredentialRule(
        AWS_ACCESS_KEY_ID,
        re.compile(_W + r"(?:AKIA|ASIA|ABIA|ACCA|AIDA|AROA)[A-Z2-7]{16}(?![A-Za-z0-9])"),
        ("AKIA", "ASIA", "ABIA", "ACCA", "AIDA", "AROA"),
    ),
    CredentialRule(
        AWS_SECRET_ACCESS_KEY,
        re.compile(
            r"(?i:secret)[\w.\-]{0,20}[\"']?\s{0,3}(?:=|:|=>|:=)\s{0,3}[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
        ),
        ("secret",),
        lower=True,
        group=1,
        score=0.95,
        check=_high_entropy,
        near=("aws",),
    ),
    CredentialRule(
        ANTHROPIC_API_KEY,
        re.compile(_W + r"sk-ant-[A-Za-z0-9_\-]{20,200}"),
        ("sk-ant-",),
    ),
    CredentialRule(
        OPENAI_API_KEY,
        re.compile(_W + r"sk-(?!ant-)(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_\-]{20,200}"),
        ("sk-",),
        check=lambda v: _high_entropy(v[3:]),
    ),
    CredentialRule(
        GITHUB_TOKEN,
        re.compile(_W + r"(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{50,255})"),
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    ),
    CredentialRule(
        SLACK_TOKEN,
        re.compile(_W + r"xox[abposr]-[A-Za-z0-9\-]{10,250}"),
        ("xox",),
    ),
    CredentialRule(
        GOOGLE_API_KEY,
        re.compile(_W + r"AIza[0-9A-Za-z_\-]{35}(?![A-Za-z0-9_\-])"),
        ("AIza",),
    ),
    CredentialRule(
        JWT,
        re.compile(_W + r"eyJ[A-Za-z0-9_\-]{5,4000}\.eyJ[A-Za-z0-9_\-]{5,8000}\.[A-Za-z0-9_\-]{10,2000}"),
        ("eyJ",),
        score=0.97,
    ),
    CredentialRule(
        GENERIC_SECRET,
        re.compile(
            r"(?i:api[_\-]?key|apikey|secret|token|passw(?:or)?d|pwd|access[_\-]?key|client[_\-]?secret|auth)"
            r"[\w\-]{0,20}[\"']?\s{0,3}(?:=|:|=>|:=)\s{0,3}[\"']?([A-Za-z0-9_\-+/.=]{16,200})"
        ),
        ("key", "secret", "token", "passw", "pwd", "auth"),
        lower=True,
        group=1,
        score=0.7,
        check=_high_entropy,
    ),
)


class CredentialDetector:
    name = "credentials"
    optional = False

    def __init__(self, rules: tuple[CredentialRule, ...] = RULES) -> None:
        self.rules = rules
        self.entity_types = tuple(dict.fromkeys(r.entity_type for r in rules))

    def detect(self, ctx: ScanContext) -> list[Finding]:
        text = ctx.text
        out: list[Finding] = []
        for rule in self.rules:
            hay = ctx.lower if rule.lower else text
            if not any(lit in hay for lit in rule.literals):
                continue
            for m in rule.pattern.finditer(text):
                if rule.near:
                    before = ctx.lower[max(0, m.start() - 40) : m.start() + 1]
                    if not any(k in before for k in rule.near):
                        continue
                value = m.group(rule.group)
                if rule.check is not None and not rule.check(value):
                    continue
                s, e = m.span(rule.group)
                out.append(Finding(s, e, rule.entity_type, rule.score, self.name))
        return out
