"""Payment card numbers: 13-19 digits, optional space/dash grouping, a known
issuer (IIN) prefix and a valid Luhn check digit."""

from __future__ import annotations

import re

from llm_mesh.policy.detectors.base import ScanContext, luhn_ok
from llm_mesh.policy.findings import CREDIT_CARD, Finding

# Maximal runs of digit groups joined by one space or dash (no lookarounds, so linear).
_RUN = re.compile(r"\d+(?:[ \-]\d+)*", re.ASCII)
# Card numbers are written in groups of 3+ digits (4-4-4-4, 4-6-5), only the last group may be
# shorter (4-4-4-1); runs of short groups ("1 2 3 ...") are never cards, and skipping them keeps
# digit-dense text linear and fast.
_MIN_GROUP = 3


def card_brand(digits: str) -> str | None:
    """The card network for a digit string, or None if no known IIN range fits its length."""
    n = len(digits)
    d1 = digits[0]
    p2 = int(digits[:2])
    p3 = int(digits[:3])
    p4 = int(digits[:4])
    p6 = int(digits[:6]) if n >= 6 else 0
    if d1 == "4" and n in (13, 16, 19):
        return "visa"
    if (51 <= p2 <= 55 or 2221 <= p4 <= 2720) and n == 16:
        return "mastercard"
    if p2 in (34, 37) and n == 15:
        return "amex"
    if (p4 == 6011 or 644 <= p3 <= 649 or p2 == 65 or 622126 <= p6 <= 622925) and 16 <= n <= 19:
        return "discover"
    if 3528 <= p4 <= 3589 and 16 <= n <= 19:
        return "jcb"
    if (300 <= p3 <= 305 or p2 in (36, 38, 39) or p4 == 3095) and 14 <= n <= 19:
        return "diners"
    if p2 == 62 and 16 <= n <= 19:
        return "unionpay"
    if (p2 == 50 or 56 <= p2 <= 58 or p2 in (63, 67)) and 13 <= n <= 19:
        return "maestro"
    if 2200 <= p4 <= 2204 and 16 <= n <= 19:
        return "mir"
    if p4 in (6521, 6522) or (p2 == 60 and n == 16):
        return "rupay"
    return None


def is_card_number(digits: str) -> bool:
    return 13 <= len(digits) <= 19 and card_brand(digits) is not None and luhn_ok(digits)


class CardDetector:
    name = "card"
    entity_types = (CREDIT_CARD,)
    optional = False

    def detect(self, ctx: ScanContext) -> list[Finding]:
        if ctx.digit_count < 13:
            return []
        text = ctx.text
        out: list[Finding] = []
        for m in (m for lo, hi in ctx.digit_clusters(13) for m in _RUN.finditer(text, lo, hi)):
            run = m.group()
            if len(run) < 13:
                continue
            start = m.start()
            end = m.end()
            before = text[start - 1] if start else " "
            after = text[end] if end < len(text) else " "
            # the run's own edges must not touch more digits, a decimal point or a "+" (phone);
            # letters may touch it: a card glued to a word ("card4111...", an address run into
            # it) is still a card. Inner group edges are separators, so candidates may start/end there.
            left_ok = not (before.isdigit() or before in "_.,/+")
            right_ok = not (after.isdigit() or after == "_")
            if right_ok and after in ".," and end + 1 < len(text) and text[end + 1].isdigit():
                right_ok = False  # a decimal number
            groups = []
            pos = start
            for part in re.split(r"[ \-]", run):
                groups.append((pos, part))
                pos += len(part) + 1
            last = len(groups) - 1
            i = 0 if left_ok else 1
            while i < len(groups):
                if len(groups[i][1]) < _MIN_GROUP:
                    i += 1
                    continue
                digits = ""
                found = None
                for j in range(i, len(groups)):
                    if j > i and len(groups[j - 1][1]) < _MIN_GROUP:
                        break  # a short group may only end a number (4-4-4-1 for 13 digits)
                    digits += groups[j][1]
                    if len(digits) > 19:
                        break
                    if j == last and not right_ok:
                        break
                    if len(digits) >= 13 and is_card_number(digits):
                        found = j  # keep extending: prefer the longest valid card
                if found is not None:
                    g_end = groups[found][0] + len(groups[found][1])
                    out.append(Finding(groups[i][0], g_end, CREDIT_CARD, 0.98, self.name))
                    i = found + 1
                else:
                    i += 1
        return out
