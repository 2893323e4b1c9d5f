"""Phone numbers, validated by libphonenumber (the ``phonenumbers`` package).

Running ``PhoneNumberMatcher`` over a whole prompt costs ~0.2 ms per region
per 2 KB, so the detector first finds phone-shaped candidates with one regex
(7-15 digits, optional leading "+", usual separators), drops regions whose
metadata cannot fit the candidate (length, required national prefix), and only
then asks libphonenumber. ``mode="matcher"`` runs ``PhoneNumberMatcher`` with
leniency VALID on a window around each candidate instead (slower, stricter).
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from phonenumbers import Leniency, PhoneMetadata, PhoneNumberMatcher
from phonenumbers import PhoneNumberType as PNT

from llm_mesh.policy.detectors.base import ScanContext
from llm_mesh.policy.findings import PHONE, Finding

# national formats are tried for these regions (international "+CC" numbers are found for every region)
DEFAULT_REGIONS = (
    "US", "CA", "GB", "IE", "FR", "DE", "ES", "IT", "NL", "BE", "CH", "AT", "PT", "SE", "DK", "NO", "FI",
    "PL", "AU", "NZ", "IN", "JP", "BR", "MX",
)

# A "+", "00" or digit start; digits with single separators; bracketed area codes.
_CANDIDATE = re.compile(
    r"(?:\(?\+|\b00)?(?:"
    r"(?<=\+)\d{1,3}\.\(?\d{1,15}\)?(?:[ \-./]\(?\d{1,15}\)?){1,7}"  # +1.506-771-9034
    r"|\d{1,15}(?:\.\d{1,15}){1,7}"  # dotted: 415.555.2671 (never mixed with spaces: "1.2.3.4 00 49...")
    r"|\(?\d{1,15}\)?(?:(?:[ \u00a0\-/]{1,2}|(?<=\))|(?=\())\(?\d{1,15}\)?){0,7}"
    r")(?:[\s-]?(?:ext\.?|x|#)\s?\d{1,6})?",
    re.ASCII | re.IGNORECASE,
)
_NON_DIGIT = re.compile(r"\D+")
_EXTENSION = re.compile(r"[\s-]?(?:ext\.?|x|#)\s?\d{1,6}\Z", re.ASCII | re.IGNORECASE)
# "(0)" after a country code: a trunk prefix written for national callers (+44 (0)20 ...)
_TRUNK_ZERO = re.compile(r"^(\+\d{1,3})[ \u00a0.\-]?\(0\)[ \u00a0.\-]?")
# day/month/year or year/month/day (two-digit or four-digit years): never a phone
_DATE_LIKE = re.compile(
    r"(?:(?:0?[1-9]|[12]\d|3[01])([./-])(?:0?[1-9]|[12]\d|3[01])\1(?:\d{2}|\d{4})"
    r"|(?:19|20)\d{2}([./-])(?:0?[1-9]|1[0-2])\2(?:0?[1-9]|[12]\d|3[01]))\Z"
)
_TIME_OR_VERSION_NEAR = re.compile(r"[.:]\d")
# yyyymmdd[hhmm[ss]] written as one run
_COMPACT_DATE = re.compile(r"(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?:(?:[01]\d|2[0-3])[0-5]\d(?:[0-5]\d)?)?\Z")
_DOTTED_QUAD = re.compile(r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\Z")
# "(11) 2432-7341", and Brazil's "11 2432-7341": an area code before a hyphenated subscriber
_AREA_CODE = re.compile(r"\(\d{1,5}\)[ \-]?\d|\d{2} \d{4,5}-\d{4}\Z")
_THOUSANDS = re.compile(r"\d{1,3}(?:[ .,']\d{3})+\Z")
_CURRENCY_WORD = re.compile(r"(?:eur|usd|gbp|chf|jpy|inr|sek|nok|dkk|pln|brl|mxn|aud|cad|rs|kr|zl|r\$)\.?\s*\Z", re.IGNORECASE)


class _RegionInfo:
    __slots__ = ("region", "lengths", "prefix", "prefix_required")

    def __init__(self, region: str) -> None:
        md = PhoneMetadata.metadata_for_region(region)
        if md is None:
            raise ValueError(f"unknown phone region {region!r}")
        self.region = region
        self.lengths = frozenset(md.general_desc.possible_length or ())
        self.prefix = md.national_prefix or ""
        # a trunk prefix "0" is always written in national format (GB, FR, DE, ...);
        # without it a bare digit run is not a national number of that region
        self.prefix_required = self.prefix == "0"

    def plausible(self, digits: str) -> bool:
        if self.prefix and digits.startswith(self.prefix) and (len(digits) - len(self.prefix)) in self.lengths:
            return True
        return not self.prefix_required and len(digits) in self.lengths


@lru_cache(maxsize=8192)
def _valid_international(candidate: str) -> bool:
    try:
        num = phonenumbers.parse(candidate, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(num)


@lru_cache(maxsize=8192)
def _valid_national(candidate: str, region: str) -> bool:
    try:
        num = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return False
    # a national-format candidate must stay in the region it was parsed for
    if not phonenumbers.is_valid_number_for_region(num, region):
        return False
    # one bare run of digits (no separators) is a phone only as a line people are called on:
    # Italy's personal-number range "178..." would make every epoch timestamp a phone
    return not candidate.strip("()").isdigit() or phonenumbers.number_type(num) in _CALLABLE


_CALLABLE = frozenset(
    (PNT.FIXED_LINE, PNT.MOBILE, PNT.FIXED_LINE_OR_MOBILE, PNT.TOLL_FREE, PNT.VOIP)
)


def _ascii_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


class PhoneDetector:
    name = "phone"
    entity_types = (PHONE,)
    optional = False

    def __init__(self, regions: tuple[str, ...] | list[str] = DEFAULT_REGIONS, mode: str = "fast") -> None:
        if mode not in ("fast", "matcher"):
            raise ValueError("phone mode must be 'fast' or 'matcher'")
        self.regions = tuple(r.upper() for r in regions)
        self._info = [_RegionInfo(r) for r in self.regions]
        self.mode = mode

    def detect(self, ctx: ScanContext) -> list[Finding]:
        if ctx.digit_count < 7:
            return []
        if self.mode == "matcher":
            return self._detect_matcher(ctx.text)
        text = ctx.text
        out: list[Finding] = []
        for lo, hi in ctx.digit_clusters(7):
            # windows of neighbouring clusters may overlap: keep one finding per span
            self._detect_window(text, max(0, lo - 2), min(len(text), hi + 12), out)
        if len(out) > 1:
            uniq = {(f.start, f.end): f for f in out}
            out = sorted(uniq.values())
        return out

    def _detect_window(self, text: str, lo: int, hi: int, out: list[Finding]) -> None:
        for m in _CANDIDATE.finditer(text, lo, hi):
            start, end = m.span()
            cand = m.group()
            # trim trailing separators/brackets the regex may have taken
            while cand and not cand[-1].isdigit():
                if cand[-1] == ")" and "(" in cand:
                    break
                cand = cand[:-1]
                end -= 1
            if cand.startswith("(") and ")" not in cand:
                cand = cand[1:]
                start += 1
            # a candidate may have swallowed a neighbouring number ("+1 201-555-5290 3492-6183"):
            # retry without its trailing groups
            international = cand.startswith(("+", "00", "(+"))
            for _ in range(4):
                if self._check(text, cand, start, end, out):
                    break
                if not international:
                    break  # "4679 2470" out of "4679 2470 8227 6548": a national number is the whole run
                cut = max(cand.rfind(" "), cand.rfind("-"), cand.rfind("."), cand.rfind("/"), cand.rfind("\u00a0"))
                if cut <= 0:
                    break
                cand = cand[:cut].rstrip(" -./\u00a0")
                end = start + len(cand)

    def _check(self, text: str, cand: str, start: int, end: int, out: list[Finding]) -> bool:
        ext = _EXTENSION.search(cand)
        main = cand[: ext.start()] if ext else cand
        digits = _NON_DIGIT.sub("", main)
        n = len(digits)
        if n < 7 or n > 17:
            return False
        if not self._context_ok(text, start, end):
            return False
        if cand.startswith("(+"):
            close = cand.find(")")
            cand_probe = cand[1:close] + " " + cand[close + 1 :] if close > 0 else cand[1:]
        else:
            cand_probe = cand
        if cand_probe.startswith("+") or cand_probe.startswith("00"):
            probe = "+" + cand_probe[2:].lstrip(" \u00a0.-/") if cand_probe.startswith("00") else cand_probe
            probe = _TRUNK_ZERO.sub(r"\1 ", probe)
            if _valid_international(probe):
                out.append(Finding(start, end, PHONE, 0.95, self.name))
                return True
            return False
        if not self._national_shape_ok(text, start, main, digits):
            return False
        bracketed = _AREA_CODE.match(main) is not None  # "(11) 2432-7341": written without trunk prefix
        for info in self._info:
            if (info.plausible(digits) or (bracketed and len(digits) in info.lengths)) and _valid_national(
                cand, info.region
            ):
                out.append(Finding(start, end, PHONE, 0.85, self.name))
                return True
        return False

    @staticmethod
    def _national_shape_ok(text: str, start: int, main: str, digits: str) -> bool:
        """Shapes that a number without a country code takes when it is no phone: dates,
        dotted quads (IPs), amounts after a currency, two-part ids (SKU 28849-736)."""
        if main.startswith("(") and main.endswith(")"):
            main = main[1:-1]
        if _DATE_LIKE.match(main) or _DOTTED_QUAD.match(main):
            return False
        if main.isdigit() and (len(main) >= 12 or _COMPACT_DATE.match(main)):
            return False  # one run of 12+ digits without a country code: an id or a tracking number
        if _THOUSANDS.match(main) and _CURRENCY_WORD.search(text, max(0, start - 5), start):
            return False
        groups = re.split(r"[ \-/.]+", main)
        if len(groups) == 2 and " " not in main and not main.startswith("("):
            # "28849-736", "2021/44581": a number split in two is area code "0..." and subscriber
            if not digits.startswith("0") or len(groups[0]) > 5 or len(groups[1]) < 4:
                return False
        return True

    @staticmethod
    def _context_ok(text: str, start: int, end: int) -> bool:
        before = text[start - 1] if start > 0 else " "
        after = text[end] if end < len(text) else " "
        # letters of scripts without spaces (お問い合わせ先は090-...です) do not join a number
        if _ascii_alnum(before) or before in "_$€£¥#@/-" or _ascii_alnum(after) or after in "_%@/-":
            return False
        # part of a dotted/colon sequence: version string, IP address, timestamp
        if before in ".:" and start >= 2 and text[start - 2].isdigit():
            return False
        if _TIME_OR_VERSION_NEAR.match(text, end):
            return False
        return True

    def _detect_matcher(self, text: str) -> list[Finding]:
        seen: dict[tuple[int, int], Finding] = {}
        for m in (m for lo, hi in ScanContext(text).digit_clusters(7) for m in _CANDIDATE.finditer(text, max(0, lo - 2), hi + 12)):
            if len(_NON_DIGIT.sub("", m.group())) < 7:
                continue
            lo, hi = max(0, m.start() - 16), min(len(text), m.end() + 16)
            window = text[lo:hi]
            for region in self.regions:
                for pm in PhoneNumberMatcher(window, region, leniency=Leniency.VALID):
                    key = (lo + pm.start, lo + pm.end)
                    if key not in seen:
                        seen[key] = Finding(key[0], key[1], PHONE, 0.95, self.name)
        return sorted(seen.values())
