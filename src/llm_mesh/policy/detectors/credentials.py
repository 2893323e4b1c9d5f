"""API keys, tokens and cloud credentials.

Each rule is anchored on literals (``"AKIA"``, ``"sk-"``, ``"secret"`` ...):
the detector finds them with ``str.find`` (C speed) and runs the rule's regex
only at those positions, so a prompt without any anchor costs a few substring
searches.
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

_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


@dataclass(frozen=True)
class CredentialRule:
    """``pattern`` is matched at each occurrence of an anchor (it must start
    with that anchor). With ``lower=True`` anchors are searched in the
    lower-cased text and the pattern should be case-insensitive."""

    entity_type: str
    pattern: re.Pattern[str]
    anchors: tuple[str, ...]
    lower: bool = False
    group: int = 0
    score: float = 0.99
    check: Callable[[str], bool] | None = None
    near: tuple[str, ...] = ()  # lower-case keywords, one must occur within 40 chars before the match
    boundary: bool = True  # the char before the match must not be a token char


def _high_entropy(value: str) -> bool:
    has_alpha = any(c.isalpha() for c in value)
    has_digit = any(c.isdigit() for c in value)
    return has_alpha and has_digit and shannon_entropy(value) >= 3.3


_ASSIGN = r"[\w.\-]{0,20}[\"']?\s{0,3}(?:=|:|=>|:=)\s{0,3}[\"']?"

RULES: tuple[CredentialRule, ...] = (
    CredentialRule(
        PRIVATE_KEY,
        re.compile(
            r"-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----[\s\S]{0,20000}?"
            r"-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----"
        ),
        ("-----BEGIN ",),
        score=1.0,
        boundary=False,
    ),
    CredentialRule(
        AWS_ACCESS_KEY_ID,
        re.compile(r"(?:AKIA|ASIA|ABIA|ACCA|AIDA|AROA)[A-Z2-7]{16}(?![A-Za-z0-9])"),
        ("AKIA", "ASIA", "ABIA", "ACCA", "AIDA", "AROA"),
    ),
    CredentialRule(
        AWS_SECRET_ACCESS_KEY,
        re.compile(r"secret" + _ASSIGN + r"([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])", re.IGNORECASE),
        ("secret",),
        lower=True,
        group=1,
        score=0.95,
        check=_high_entropy,
        near=("aws",),
        boundary=False,
    ),
    CredentialRule(ANTHROPIC_API_KEY, re.compile(r"sk-ant-[A-Za-z0-9_\-]{20,200}"), ("sk-ant-",)),
    CredentialRule(
        OPENAI_API_KEY,
        re.compile(r"sk-(?!ant-)(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_\-]{20,200}"),
        ("sk-",),
        check=lambda v: _high_entropy(v[3:]),
    ),
    CredentialRule(
        GITHUB_TOKEN,
        re.compile(r"(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{50,255})"),
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    ),
    CredentialRule(SLACK_TOKEN, re.compile(r"xox[abposr]-[A-Za-z0-9\-]{10,250}"), ("xox",)),
    CredentialRule(GOOGLE_API_KEY, re.compile(r"AIza[0-9A-Za-z_\-]{35}(?![A-Za-z0-9_\-])"), ("AIza",)),
    CredentialRule(
        JWT,
        re.compile(r"eyJ[A-Za-z0-9_\-]{5,4000}\.eyJ[A-Za-z0-9_\-]{5,8000}\.[A-Za-z0-9_\-]{10,2000}"),
        ("eyJ",),
        score=0.97,
    ),
    CredentialRule(
        GENERIC_SECRET,
        re.compile(r"(?:key|secret|token|passw(?:or)?d|pwd|auth)" + _ASSIGN + r"([A-Za-z0-9_\-+/.=]{16,200})", re.IGNORECASE),
        ("key", "secret", "token", "passw", "pwd", "auth"),
        lower=True,
        group=1,
        score=0.7,
        check=_high_entropy,
        boundary=False,
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
        seen: set[tuple[int, int, str]] = set()
        for rule in self.rules:
            if rule.lower:
                hay = ctx.lower
                if len(hay) != len(text):  # lower() changed lengths (rare scripts): positions differ
                    starts = [m.start() for m in re.finditer("|".join(map(re.escape, rule.anchors)), text, re.I)]
                    hay = None
            else:
                hay = text
            if hay is not None:
                starts = []
                for anchor in rule.anchors:
                    i = hay.find(anchor)
                    while i != -1:
                        starts.append(i)
                        i = hay.find(anchor, i + 1)
            for pos in sorted(starts):
                if rule.boundary and pos and text[pos - 1] in _TOKEN_CHARS:
                    continue
                m = rule.pattern.match(text, pos)
                if m is None:
                    continue
                if rule.near:
                    before = ctx.lower[max(0, pos - 40) : pos + 1]
                    if not any(k in before for k in rule.near):
                        continue
                value = m.group(rule.group)
                if rule.check is not None and not rule.check(value):
                    continue
                s, e = m.span(rule.group)
                key = (s, e, rule.entity_type)
                if key not in seen:
                    seen.add(key)
                    out.append(Finding(s, e, rule.entity_type, rule.score, self.name))
        return out
