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

ASCII text (the common case) is returned as is at C speed; other text costs one
pass over its non-ASCII characters, folded through a cache.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_DASHES = frozenset("\u2010\u2011\u2012\u2013\u2212\u2043\ufe63\uff0d")


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


class Folded:
    """Folded text and the map of its offsets to the original's (None: identical)."""

    __slots__ = ("text", "original", "_offsets")

    def __init__(self, text: str, original: str, offsets: list[int] | None) -> None:
        self.text = text
        self.original = original
        self._offsets = offsets

    @property
    def changed(self) -> bool:
        return self._offsets is not None

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of folded ``text[start:end]`` (``end > start``)."""
        offsets = self._offsets
        if offsets is None:
            return start, end
        return offsets[start], offsets[end - 1] + 1


def fold(text: str) -> Folded:
    if text.isascii():
        return Folded(text, text, None)
    runs = []
    for m in _NON_ASCII.finditer(text):
        run = m.group()
        folded = "".join(map(fold_char, run))
        if folded != run:
            runs.append((m.start(), m.end()))
    if not runs:
        return Folded(text, text, None)
    parts: list[str] = []
    offsets: list[int] = []
    pos = 0
    for a, b in runs:
        if a > pos:
            parts.append(text[pos:a])
            offsets.extend(range(pos, a))
        for i in range(a, b):
            rep = fold_char(text[i])
            if rep:
                parts.append(rep)
                offsets.extend([i] * len(rep))
        pos = b
    parts.append(text[pos:])
    offsets.extend(range(pos, len(text)))
    return Folded("".join(parts), text, offsets)
