"""The detector interface and the per-scan context shared by detectors."""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Iterable, Protocol, runtime_checkable

from llm_mesh.policy.findings import Finding
from llm_mesh.policy.normalise import fold

_DIGITS = b"0123456789"
# digits, plus the separators numbers are written with; ends on a digit or ")"
_CLUSTER = re.compile(r"\d(?:[\d ().\-/+]*[\d)])?", re.ASCII)


class ScanContext:
    """The text being scanned plus cheap derived views, computed once and shared.

    ``text`` is the folded text (:mod:`llm_mesh.policy.normalise`: NFKC, Unicode digits
    as ASCII, no zero-width or bidi controls) that detectors scan; ``original`` is the
    text as given, and :meth:`to_original` maps findings on ``text`` back onto it."""

    __slots__ = ("text", "original", "_folded", "_lower", "_digit_count", "_clusters")

    def __init__(self, text: str) -> None:
        self._folded = fold(text)
        self.text = self._folded.text
        self.original = text
        self._lower: str | None = None
        self._digit_count: int | None = None
        self._clusters: list[tuple[int, int, int]] | None = None

    @property
    def folded(self) -> bool:
        """True when ``text`` differs from ``original`` (findings need :meth:`to_original`)."""
        return self._folded.changed

    def to_original(self, findings: list[Finding]) -> list[Finding]:
        if not self._folded.changed:
            return findings
        span = self._folded.span
        out = []
        for f in findings:
            start, end = span(f.start, f.end)
            out.append(Finding(start, end, f.entity_type, f.score, f.detector))
        return out

    def digit_clusters(self, min_digits: int) -> list[tuple[int, int]]:
        """Spans of digits joined by phone/card/id separators, with at least
        ``min_digits`` digits. One shared scan feeds every numeric detector,
        which then runs its own regex only inside these windows."""
        if self._clusters is None:
            clusters = []
            if self.digit_count:
                for m in _CLUSTER.finditer(self.text):
                    run = m.group()
                    raw = run.encode("ascii")
                    n = len(raw) - len(raw.translate(None, _DIGITS))
                    clusters.append((m.start(), m.end(), n))
            self._clusters = clusters
        return [(s, e) for s, e, n in self._clusters if n >= min_digits]

    @property
    def lower(self) -> str:
        if self._lower is None:
            self._lower = self.text.lower()
        return self._lower

    @property
    def digit_count(self) -> int:
        """Number of ASCII digits (a C-speed count, used as a prefilter)."""
        if self._digit_count is None:
            raw = self.text.encode("utf-8", "surrogatepass")
            self._digit_count = len(raw) - len(raw.translate(None, _DIGITS))
        return self._digit_count


@runtime_checkable
class Detector(Protocol):
    """A detector family. ``optional`` detectors (remote services, models) obey
    the policy's fail_open/fail_closed setting when they raise; built-in ones
    always fail closed."""

    name: str
    entity_types: tuple[str, ...]
    optional: bool

    def detect(self, ctx: ScanContext) -> list[Finding]: ...


def detect_text(detector: Detector, text: str) -> list[Finding]:
    """Findings of one detector, as spans of ``text``."""
    ctx = ScanContext(text)
    return ctx.to_original(detector.detect(ctx))


# --- helpers -----------------------------------------------------------------

_LUHN_DOUBLE = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def luhn_ok(digits: str) -> bool:
    total = 0
    double = False
    for ch in reversed(digits):
        d = ord(ch) - 48
        total += _LUHN_DOUBLE[d] if double else d
        double = not double
    return total % 10 == 0


def shannon_entropy(value: str) -> float:
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def trie_regex(terms: Iterable[str]) -> str | None:
    """One regex alternation shaped like a trie of the (lower-cased) terms.

    Python's ``re`` tries alternatives one by one; factoring common prefixes
    makes thousands of terms cost about as much as a handful. Whitespace inside
    a term matches any run of whitespace. Returns None for no terms.
    """
    root: dict = {}
    count = 0
    for term in terms:
        words = term.strip().lower().split()
        if not words:
            continue
        key = "\x00".join(words)  # \x00 marks "any whitespace run"
        node = root
        for ch in key:
            node = node.setdefault(ch, {})
        node[""] = {}
        count += 1
    if not count:
        return None

    def emit(node: dict) -> str:
        end = "" in node
        branches = []
        singles = []
        for ch in sorted(k for k in node if k != ""):
            sub = emit(node[ch])
            atom = r"\s+" if ch == "\x00" else re.escape(ch)
            if sub == "":
                if ch != "\x00" and len(atom) == 1:
                    singles.append(atom)
                else:
                    branches.append(atom)
            else:
                branches.append(atom + sub)
        if singles:
            branches.append(singles[0] if len(singles) == 1 else "[" + "".join(singles) + "]")
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if end:
            if len(branches) == 1 and len(body) == 1:
                return body + "?"
            return "(?:" + body + ")?"
        return body

    return emit(root)
