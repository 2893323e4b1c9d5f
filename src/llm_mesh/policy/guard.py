"""Output guardrail for streamed answers, sentence by sentence.

``SentenceGuard.feed(delta)`` buffers text until a sentence boundary, checks the
complete sentence(s) for forbidden terms and for PII (with the policy's output
actions: ``block`` is a violation, other transforms rewrite one-way), and
returns what may be released. A violation is sticky: the stream must end with
an error event. Put the guard *before* the :class:`StreamRestorer` so restored
values of the caller are not flagged as new PII.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from llm_mesh.policy.actions import PolicyBlocked, format_counts
from llm_mesh.policy.decisions import PolicyDecisions
from llm_mesh.policy.detectors.denylist import compile_terms, find_terms

if TYPE_CHECKING:
    from llm_mesh.policy.engine import PolicyEngine

# end of a sentence: terminal punctuation followed by whitespace, or a newline
_BOUNDARY = re.compile(r"[.!?\u3002\uff01\uff1f\u2026][\"')\]\u201d\u2019]*\s+|\n+")
FORBIDDEN_TERM = "FORBIDDEN_TERM"


@dataclass(frozen=True)
class GuardViolation:
    kind: str  # "pii" | "forbidden_term"
    counts: Mapping[str, int]  # entity type -> count; never values

    @property
    def message(self) -> str:
        what = "personal or confidential data" if self.kind == "pii" else "forbidden terms"
        return f"the response was stopped by policy: it contains {what} ({format_counts(self.counts)})"


@dataclass(frozen=True)
class GuardResult:
    text: str  # safe to release now (may be "")
    violation: GuardViolation | None = None
    decisions: "PolicyDecisions | None" = field(default=None, compare=False)

    @property
    def ok(self) -> bool:
        return self.violation is None


class SentenceGuard:
    def __init__(
        self,
        engine: "PolicyEngine | None",
        *,
        forbidden_terms: Iterable[str] = (),
        max_sentence_chars: int = 2000,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        self.engine = engine
        self._forbidden = compile_terms(forbidden_terms)
        self.max_sentence_chars = max_sentence_chars
        self.context = dict(context or {})
        self._buf = ""
        self.violation: GuardViolation | None = None
        self.decisions = PolicyDecisions(engine.name if engine else "output")

    def _check(self, chunk: str) -> GuardResult:
        if self._forbidden is not None:
            hits = len(find_terms(self._forbidden, chunk))
            if hits:
                self.violation = GuardViolation("forbidden_term", {FORBIDDEN_TERM: hits})
                self._buf = ""
                return GuardResult("", self.violation, self.decisions)
        if self.engine is not None:
            try:
                chunk, dec = self.engine.apply_to_text(chunk, None, direction="output", context=self.context)
            except PolicyBlocked as exc:
                self.decisions.blocked = True
                self.violation = GuardViolation("pii", exc.counts)
                self._buf = ""
                return GuardResult("", self.violation, self.decisions)
            self.decisions.merge(dec)
        return GuardResult(chunk, None, self.decisions)

    def feed(self, delta: str) -> GuardResult:
        if self.violation is not None:
            return GuardResult("", self.violation, self.decisions)
        self._buf += delta
        last = None
        for m in _BOUNDARY.finditer(self._buf):
            last = m
        if last is not None:
            cut = last.end()
        elif len(self._buf) > self.max_sentence_chars:
            # no boundary in sight: release up to the last whitespace, keeping a tail
            # so that a value split at the cut is still seen whole next time
            limit = len(self._buf) - 64
            ws = max(self._buf.rfind(" ", 0, limit), self._buf.rfind("\t", 0, limit))
            cut = ws + 1 if ws > 0 else limit
        else:
            return GuardResult("", None, self.decisions)
        chunk, self._buf = self._buf[:cut], self._buf[cut:]
        return self._check(chunk)

    def flush(self) -> GuardResult:
        if self.violation is not None:
            return GuardResult("", self.violation, self.decisions)
        chunk, self._buf = self._buf, ""
        if not chunk:
            return GuardResult("", None, self.decisions)
        return self._check(chunk)
