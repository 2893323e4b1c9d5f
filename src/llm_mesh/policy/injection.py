"""Prompt-injection heuristics for user and retrieved content (pure, no I/O).

Signals, each with a weight; a text's score is the highest weight found (plus a
small bonus per further distinct signal, capped at 1.0):

- ``instruction_override``: "ignore (all) previous/above instructions", "disregard
  the system prompt", "forget everything you were told", "new instructions:";
- ``prompt_exfiltration``: "reveal/print your system prompt / hidden instructions";
- ``role_play_jailbreak``: DAN / "do anything now", "developer mode", "you are no
  longer bound by", "pretend you have no restrictions", "jailbreak";
- ``role_marker``: fake chat-template markers (``<|im_start|>system``, ``[INST]``,
  ``### System:``) inside content;
- ``hidden_unicode``: Unicode tag characters (U+E0000..U+E007F, invisible ASCII
  smuggling), bidi overrides, runs of zero-width characters;
- ``encoded_instructions``: a base64 blob that decodes to text containing any of
  the phrases above.

An optional :class:`InjectionClassifier` (a model behind any interface) adds its
score as the ``classifier`` signal. Findings carry kinds and spans, never text.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Protocol, Sequence, runtime_checkable

_PHRASES: tuple[tuple[str, float, str], ...] = (
    (
        "instruction_override",
        0.9,
        r"\b(?:ignore|disregard|forget|override|bypass|skip)\s+(?:all\s+|any\s+|the\s+|your\s+|every\s+|of\s+)*"
        r"(?:previous|prior|above|earlier|preceding|former|original|system|initial|existing)\s+"
        r"(?:instructions?|prompts?|rules|directions|guidelines|messages?|context|constraints)",
    ),
    ("instruction_override", 0.8, r"\bforget\s+(?:everything|all)\s+(?:you\s+(?:were|have\s+been)\s+told|above|before)"),
    ("instruction_override", 0.6, r"(?:^|\n)\s*(?:new|updated|real|actual)\s+instructions?\s*:"),
    ("instruction_override", 0.7, r"\bdo\s+not\s+follow\s+(?:the|your|any)\s+(?:previous|system|above|original)\b"),
    (
        "prompt_exfiltration",
        0.8,
        r"\b(?:reveal|print|show|repeat|output|display|leak|tell\s+me)\s+(?:me\s+)?(?:your|the)\s+"
        r"(?:system\s+prompt|hidden\s+(?:instructions?|prompt)|initial\s+(?:instructions?|prompt)|instructions\s+above)",
    ),
    ("role_play_jailbreak", 0.8, r"\b(?:DAN|do\s+anything\s+now)\b(?=.{0,200}\b(?:mode|jailbreak|prompt|now|no\s+restrictions)\b)"),
    ("role_play_jailbreak", 0.75, r"\b(?:developer|god|jailbreak|unrestricted|evil)\s+mode\b"),
    ("role_play_jailbreak", 0.8, r"\byou\s+are\s+(?:no\s+longer|not)\s+(?:bound|restricted|limited)\s+by\b"),
    (
        "role_play_jailbreak",
        0.75,
        r"\b(?:pretend|act\s+as\s+if|imagine)\s+(?:that\s+)?you\s+(?:have|had|are)\s+(?:no|without)\s+"
        r"(?:restrictions|rules|filters|limits|guidelines|content\s+policy)",
    ),
    ("role_play_jailbreak", 0.6, r"\bjailbr(?:eak|oken)\b"),
    ("role_marker", 0.7, r"<\|(?:im_start|im_end|system|endoftext)\|>|\[/?INST\]|<<SYS>>|(?:^|\n)\s*#{2,}\s*(?:system|assistant)\s*:"),
)
# Patterns run on the lower-cased text (case-insensitive matching in ``re`` is several
# times slower); none of them uses an upper-case escape, so lower-casing them is safe.
_PHRASE_RE = [(kind, weight, re.compile(p.lower(), re.DOTALL)) for kind, weight, p in _PHRASES]
# The prefilter: C-speed substring checks on the lower-cased text; most texts contain none.
_KEYWORDS = (
    "ignor", "disregard", "forget", "overrid", "bypass", "skip", "instruction", "reveal", "prompt", "anything now",
    "dan ", "dan,", "mode", "bound by", "restricted by", "limited by", "pretend", "act as", "imagine", "jailbr",
    "<|", "inst]", "<<sys", "##", "do not follow",
)
_HIDDEN = re.compile("[\U000e0000-\U000e007f]+|[\u202a-\u202e\u2066-\u2069]|[\u200b-\u200d\u2060\ufeff]{3,}")
_B64 = re.compile(r"(?<![A-Za-z0-9+/=])(?:[A-Za-z0-9+/]{4}){8,}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?(?![A-Za-z0-9+/=])")


@dataclass(frozen=True, slots=True)
class InjectionSignal:
    kind: str
    start: int
    end: int
    weight: float


@dataclass(frozen=True)
class InjectionResult:
    score: float
    signals: tuple[InjectionSignal, ...] = ()

    @property
    def kinds(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.signals:
            out[s.kind] = out.get(s.kind, 0) + 1
        return dict(sorted(out.items()))


@runtime_checkable
class InjectionClassifier(Protocol):
    """Optional model-based detector: a probability that ``text`` is an injection attempt."""

    def score(self, text: str) -> float: ...


def _phrase_signals(text: str, offset: int = 0) -> list[InjectionSignal]:
    lower = text.lower()
    if not any(k in lower for k in _KEYWORDS):
        return []
    out = []
    for kind, weight, rx in _PHRASE_RE:
        for m in rx.finditer(lower):
            out.append(InjectionSignal(kind, offset + m.start(), offset + m.end(), weight))
    return out


@dataclass
class InjectionDetector:
    classifier: InjectionClassifier | None = None
    max_scan_chars: int = 200_000
    _empty: InjectionResult = field(default_factory=lambda: InjectionResult(0.0))

    def scan(self, text: str) -> InjectionResult:
        if not text:
            return self._empty
        text = text[: self.max_scan_chars]
        signals = _phrase_signals(text)
        if not text.isascii():
            for m in _HIDDEN.finditer(text):
                signals.append(InjectionSignal("hidden_unicode", m.start(), m.end(), 0.7 if len(m.group()) > 1 else 0.5))
        if len(text) >= 32:
            for m in _B64.finditer(text):
                try:
                    decoded = base64.b64decode(m.group(), validate=True).decode("utf-8")
                except (binascii.Error, UnicodeDecodeError, ValueError):
                    continue
                if _phrase_signals(decoded):
                    signals.append(InjectionSignal("encoded_instructions", m.start(), m.end(), 0.9))
        if self.classifier is not None:
            p = float(self.classifier.score(text))
            if p > 0:
                signals.append(InjectionSignal("classifier", 0, len(text), min(max(p, 0.0), 1.0)))
        if not signals:
            return self._empty
        kinds = {s.kind for s in signals}
        score = min(1.0, max(s.weight for s in signals) + 0.05 * (len(kinds) - 1))
        return InjectionResult(score, tuple(sorted(signals, key=lambda s: (s.start, s.kind))))

    def scan_all(self, texts: Sequence[str]) -> InjectionResult:
        best = self._empty
        signals: list[InjectionSignal] = []
        for t in texts:
            r = self.scan(t)
            signals.extend(r.signals)
            if r.score > best.score:
                best = r
        return InjectionResult(best.score, tuple(signals)) if signals else self._empty
