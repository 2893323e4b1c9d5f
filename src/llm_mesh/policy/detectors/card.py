"""Payment card numbers: 12-19 digits, optional space/dash grouping, a known
issuer (IIN) prefix and a valid Luhn check digit."""

from __future__ import annotations

import re

from stdnum import iban as _iban
from stdnum.fr import nir as _fr_nir

from llm_mesh.policy.detectors.base import ScanContext, luhn_ok
from llm_mesh.policy.findings import CREDIT_CARD, Finding

# Maximal runs of digit groups joined by one space or dash (no lookarounds, so linear).
_RUN = re.compile(r"\d+(?:[ .\-]\d+)*", re.ASCII)
_GROUP_SEPARATOR = re.compile(r"[ .\-]")
# Card numbers are written in groups of 3+ digits (4-4-4-4, 4-6-5), only the last group may be
# shorter (4-4-4-1); runs of short groups ("1 2 3 ...") are never cards, and skipping them keeps
# digit-dense text linear and fast.
_MIN_GROUP = 3
# an IBAN's country code and check digits (and bank code) right before a digit run
_IBAN_HEAD = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){0,3} ?\Z")


# (network, IIN ranges as (low, high) of one prefix width, card lengths). Sources: the networks'
# published IIN tables (ISO/IEC 7812); overlapping ranges are listed by the first match.
_IIN_TABLE: tuple[tuple[str, tuple[tuple[str, str], ...], frozenset[int]], ...] = (
    ("visa", (("4", "4"),), frozenset(range(13, 20))),
    ("mir", (("2200", "2204"),), frozenset(range(16, 20))),
    ("mastercard", (("51", "55"), ("2221", "2720")), frozenset((16,))),
    ("amex", (("34", "34"), ("37", "37")), frozenset((15,))),
    ("jcb", (("35", "35"),), frozenset(range(16, 20))),
    ("jcb", (("1800", "1800"), ("2131", "2131")), frozenset((15,))),
    ("diners", (("300", "305"), ("3095", "3095"), ("36", "36"), ("38", "39")), frozenset(range(14, 20))),
    ("rupay", (("60", "60"), ("65", "65"), ("81", "82"), ("508", "508"), ("353", "353"), ("356", "356")), frozenset((16,))),
    ("discover", (("6011", "6011"), ("644", "649"), ("65", "65")), frozenset(range(16, 20))),
    ("unionpay", (("62", "62"), ("81", "81")), frozenset(range(16, 20))),
    ("verve", (("506", "507"), ("650", "650")), frozenset(range(16, 20))),
    ("maestro", (("50", "50"), ("56", "69"), ("0604", "0604")), frozenset(range(12, 20))),
    ("uatp", (("1", "1"),), frozenset((15,))),
    ("troy", (("9792", "9792"),), frozenset((16,))),
    ("uzcard/humo", (("8600", "8600"), ("9860", "9860")), frozenset((16,))),
)


def card_brand(digits: str) -> str | None:
    """The card network for a digit string, or None if no known IIN range fits its length."""
    n = len(digits)
    for brand, ranges, lengths in _IIN_TABLE:
        if n not in lengths:
            continue
        for lo, hi in ranges:  # equal-width digit strings: text order is numeric order
            if lo <= digits[: len(lo)] <= hi:
                return brand
    return None


def is_card_number(digits: str) -> bool:
    if not (12 <= len(digits) <= 19 and luhn_ok(digits)):
        return False
    brand = card_brand(digits)
    if brand == "uatp" and _fr_nir.is_valid(digits):
        return False  # 15 digits from "1": a valid French NIR (mod-97 key) is taken as the NIR
    return brand is not None


_HEX_ID_HEAD = re.compile(r"[0-9A-Fa-f]{4,}-(?:[0-9A-Fa-f]{4}-){0,3}[0-9A-Fa-f]*\Z")
_TRACKING = re.compile(r"\d{4}(?:[ .\-]\d{4}){4,}[ .\-]\d{1,3}\Z")


def _not_a_card_run(text: str, start: int, run: str, before: str) -> bool:
    """Digit runs that hold no card although a part of them may pass Luhn: the tail of a
    dashed id (a UUID), a run glued to upper-case letters (an IBAN "CH50...", a tracking
    number "JD0123..."), a 22-digit tracking number in 4-groups ("9400 1118 ... 73")."""
    if before == "-" and start >= 2 and text[start - 2].isalnum():
        return True
    if before.isascii() and before.isalpha() and (
        before.isupper() or _HEX_ID_HEAD.search(text, max(0, start - 40), start)
    ):
        return True
    return _TRACKING.match(run) is not None


def _groups_after_iban(text: str, start: int, parts: list[str]) -> int | None:
    """For a digit run right after an IBAN's two country letters: the index of the first group
    after the longest valid IBAN the run begins, or None (no valid IBAN, or nothing after it)."""
    if start < 2 or not text[start - 2 : start].isupper() or not text[start - 2 : start].isalpha():
        return None
    compact = text[start - 2 : start]
    after_iban = None
    for index, part in enumerate(parts[:-1]):
        compact += part
        if len(compact) >= 15 and _iban.is_valid(compact):
            after_iban = index + 1
    return after_iban


def _first_candidate_group(text: str, start: int, run: str, before: str, parts: list[str]) -> int | None:
    """The index of the run's first group a card may start at, or None when the run holds none.
    The run's own left edge must not touch more digits, a decimal point or a "+" (phone);
    letters may touch it: a card glued to a word ("card4111...", an address run into it) is
    still a card. Inner group edges are separators, so candidates may start there."""
    if _not_a_card_run(text, start, run, before):
        # a card may still follow a whole IBAN in the same run ("DE89 3704 ... 00 4111 1111 ...")
        return _groups_after_iban(text, start, parts)
    return 1 if before.isdigit() or before in "_.,/+" else 0


class CardDetector:
    name = "card"
    entity_types = (CREDIT_CARD,)
    optional = False

    def detect(self, ctx: ScanContext) -> list[Finding]:
        if ctx.digit_count < 12:
            return []
        text = ctx.text
        out: list[Finding] = []
        for m in (m for lo, hi in ctx.digit_clusters(12) for m in _RUN.finditer(text, lo, hi)):
            run = m.group()
            if len(run) < 12:
                continue
            start = m.start()
            end = m.end()
            before = text[start - 1] if start else " "
            after = text[end] if end < len(text) else " "
            parts = _GROUP_SEPARATOR.split(run)
            first = _first_candidate_group(text, start, run, before, parts)
            if first is None:
                continue
            right_ok = not (after.isdigit() or after == "_")
            if right_ok and after in ".," and end + 1 < len(text) and text[end + 1].isdigit():
                right_ok = False  # a decimal number
            groups = []
            pos = start
            for part in parts:
                groups.append((pos, part))
                pos += len(part) + 1
            last = len(groups) - 1
            i = first
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
                    if j > i and len(groups[j][1]) > 6:
                        break  # grouped card numbers come in groups of 4-6 ("66443088-1691" is an id)
                    if len(digits) >= 12 and is_card_number(digits):
                        found = j  # keep extending: prefer the longest valid card
                if found is not None and _IBAN_HEAD.search(text, max(0, groups[i][0] - 20), groups[i][0]):
                    found = None  # the tail of an IBAN (PL03 4212 5856 ...)
                if found is not None:
                    g_end = groups[found][0] + len(groups[found][1])
                    out.append(Finding(groups[i][0], g_end, CREDIT_CARD, 0.98, self.name))
                    i = found + 1
                else:
                    i += 1
        return out
