"""Disguises applied to a planted value: other Unicode digits and letters, invisible
characters, odd separators. Each keeps the value the same to a reader (or after NFKC)."""

from __future__ import annotations

import random
import re

ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad")
BIDI = ("\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069")
# zero of other decimal digit sets: Arabic-Indic, Extended Arabic-Indic, Devanagari, Bengali, Thai,
# fullwidth, mathematical bold / double-struck / monospace
DIGIT_ZEROS = (0x0660, 0x06F0, 0x0966, 0x09E6, 0x0E50, 0xFF10, 0x1D7CE, 0x1D7D8, 0x1D7F6)
ODD_SEPARATORS = (".", "\u2013", "\u2009", "\u00a0", "\u202f", "\u3000", "\u2012", "\u2212")


def fullwidth(value: str, r: random.Random) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else ("\u3000" if c == " " else c) for c in value)


def unicode_digits(value: str, r: random.Random) -> str:
    zero = r.choice(DIGIT_ZEROS)
    return "".join(chr(zero + ord(c) - 48) if c.isdigit() else c for c in value)


def math_letters(value: str, r: random.Random) -> str:
    """Mathematical bold letters and digits (NFKC folds them to ASCII)."""
    out = []
    for c in value:
        if "a" <= c <= "z":
            out.append(chr(0x1D41A + ord(c) - 97))
        elif "A" <= c <= "Z":
            out.append(chr(0x1D400 + ord(c) - 65))
        elif c.isdigit():
            out.append(chr(0x1D7CE + ord(c) - 48))
        else:
            out.append(c)
    return "".join(out)


def _insert(value: str, r: random.Random, pool: tuple[str, ...]) -> str:
    chars = list(value)
    for _ in range(r.randint(1, 3)):
        chars.insert(r.randint(1, len(chars) - 1), r.choice(pool))
    return "".join(chars)


def zero_width(value: str, r: random.Random) -> str:
    return _insert(value, r, ZERO_WIDTH)


def bidi(value: str, r: random.Random) -> str:
    inner = _insert(value, r, BIDI)
    return r.choice(["\u2066", "\u202a", "\u200e", ""]) + inner + r.choice(["\u2069", "\u202c", ""])


def odd_separators(value: str, r: random.Random) -> str:
    """Swap the separators of a grouped number (or group a compact one) for another kind."""
    sep = r.choice(ODD_SEPARATORS)
    m = re.search(r"\s?(?:ext\.?|x|#)\s?\d+\Z", value)  # keep a phone extension as written
    ext = m.group() if m else ""
    value = value[: len(value) - len(ext)]
    if any(c in value for c in " -."):
        return "".join(sep if c in " -." else c for c in value) + ext
    return sep.join(value[i : i + 4] for i in range(0, len(value), 4))


NUMERIC = (fullwidth, unicode_digits, math_letters, zero_width, bidi, odd_separators)
TEXTUAL = (fullwidth, math_letters, zero_width, bidi)
