"""Text folding before PII scanning, with a map back to the original offsets.

Disguised values read the same to a person (or a model) but not to a regex:
fullwidth or mathematical digits and letters, Arabic-Indic or Devanagari digits,
zero-width and bidi control characters inside a number, en dashes or thin spaces
as separators. :func:`fold` returns text where each non-ASCII character is
NFKC-folded, every Unicode decimal digit is an ASCII digit, format characters
(Unicode category Cf: zero-width, bidi controls, soft hyphen, BOM) are gone and
hyphen-like dashes are "-", plus the original offset of every folded character,
so findings map back to exact spans of the original text (redaction and restore
work on the original, invisible characters inside a value included).

ASCII text (the common case) and NFKC-stable text without format characters,
dashes or other digits are returned as is after C-speed checks; other text has
its non-ASCII runs folded (through a cache), and the offset map is only built
when a finding in changed text has to be mapped back.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_DASHES = frozenset("\u2010\u2011\u2012\u2013\u2212\u2043\ufe63\uff0d")
# characters that fold although NFKC keeps them: format characters (category Cf), dashes,
# decimal digits of other scripts
_SPECIAL = re.compile(
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U00013438"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
    "\u2010-\u2013\u2212\u2043]|(?![0-9])\\d"
)


@lru_cache(maxsize=8192)
def fold_char(ch: str) -> str:
    """The folded form of one non-ASCII character (may be empty or several characters)."""
    if ch in _DASHES:
        return "-"
    category = unicodedata.category(ch)
    if category == "Cf":
        return ""
    if category == "Nd":
        return str(unicodedata.decimal(ch))
    folded = unicodedata.normalize("NFKC", ch)
    if folded != ch and any(unicodedata.category(c) == "Nd" and not c.isascii() for c in folded):
        folded = "".join(str(unicodedata.decimal(c)) if unicodedata.category(c) == "Nd" else c for c in folded)
    return folded


@lru_cache(maxsize=8192)
def _fold_run(run: str) -> str:
    return "".join(map(fold_char, run))


def _fold_match(m: re.Match[str]) -> str:
    return _fold_run(m.group())


class Folded:
    """Folded text and the map of its offsets to the original's (built on first use)."""

    __slots__ = ("text", "original", "_offsets")

    def __init__(self, text: str, original: str) -> None:
        self.text = text
        self.original = original
        self._offsets: list[int] | None = None

    @property
    def changed(self) -> bool:
        return self.text is not self.original

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of folded ``text[start:end]`` (``end > start``)."""
        if self.text is self.original:
            return start, end
        offsets = self._offsets
        if offsets is None:
            offsets = self._offsets = _offsets(self.original)
        return offsets[start], offsets[end - 1] + 1


def _offsets(text: str) -> list[int]:
    """For each folded character, the index of the original character it came from."""
    offsets: list[int] = []
    pos = 0
    for m in _NON_ASCII.finditer(text):
        a, b = m.span()
        if a > pos:
            offsets.extend(range(pos, a))
        for i in range(a, b):
            offsets.extend([i] * len(fold_char(text[i])))
        pos = b
    offsets.extend(range(pos, len(text)))
    return offsets


def fold(text: str) -> Folded:
    if text.isascii():
        return Folded(text, text)
    # C-speed test for the common case: NFKC-stable text without format characters, dashes or
    # non-ASCII digits (accented Latin, Greek, Cyrillic, most CJK prose) is left alone
    if unicodedata.is_normalized("NFKC", text) and _SPECIAL.search(text) is None:
        return Folded(text, text)
    folded = _NON_ASCII.sub(_fold_match, text)
    return Folded(text if folded == text else folded, text)
