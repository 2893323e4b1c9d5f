"""National identifiers, checked with python-stdnum where it has a validator.

Each id is a :class:`NationalIdSpec` (entity type, candidate regex, validator,
optional context keywords). Ids with a weak check (a mod-11 digit over 10-11
plain digits) only count when a keyword appears shortly before them, otherwise
every order number would be a candidate. Add specs for more countries with
:func:`register_national_id`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from stdnum.de import idnr as _de_idnr
from stdnum.es import dni as _es_dni
from stdnum.fr import nir as _fr_nir
from stdnum.gb import nhs as _gb_nhs
from stdnum.it import codicefiscale as _it_cf
from stdnum.us import ssn as _us_ssn

from llm_mesh.policy.detectors.base import ScanContext
from llm_mesh.policy.findings import DE_IDNR, ES_DNI, FR_NIR, GB_NHS, GB_NINO, IT_FISCAL_CODE, US_SSN, Finding


_SEPARATORS = re.compile(r"[ .\-]")


def _safe(fn: Callable[[str], bool]) -> Callable[[str], bool]:
    """The validator on the value without separators (stdnum's own compaction differs per id)."""

    def check(value: str) -> bool:
        try:
            return bool(fn(_SEPARATORS.sub("", value)))
        except Exception:  # noqa: BLE001 - stdnum validators may raise on odd input
            return False

    return check


_NINO_BAD_PREFIX = {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"}


def _gb_nino_valid(value: str) -> bool:
    v = value.replace(" ", "").upper()
    return len(v) == 9 and v[:2] not in _NINO_BAD_PREFIX


@dataclass(frozen=True)
class NationalIdSpec:
    entity_type: str
    pattern: re.Pattern[str]
    validator: Callable[[str], bool]
    keywords: tuple[str, ...] = ()  # lower-case; if set, one must occur within `window` chars before
    window: int = 48
    score: float = 0.9
    digits_needed: int = 0  # prefilter: minimum ASCII digits in the text
    numeric: bool = False  # only searched inside the shared digit clusters (plus padding)
    pad: tuple[int, int] = (0, 0)  # chars around a cluster the id may extend to (letters)
    literal: tuple[str, ...] = ()  # prefilter: one of these must occur in the text


_AFTER_COUNTRY_CODE = re.compile(r"\+\d{1,3}[ .-]?\Z")
_B = ""  # left boundary checked in code: a leading lookbehind would defeat re's prefix scan
_E = r"(?![\w-])"

NATIONAL_ID_SPECS: dict[str, NationalIdSpec] = {
    US_SSN: NationalIdSpec(
        US_SSN,
        re.compile(_B + r"\d{3}([- .])\d{2}\1\d{4}" + _E, re.ASCII),
        _safe(_us_ssn.is_valid),
        score=0.9,
        digits_needed=9,
        numeric=True,
    ),
    # "SSN 536904399": the bare 9-digit form only next to a keyword
    "US_SSN_BARE": NationalIdSpec(
        US_SSN,
        re.compile(_B + r"\d{9}" + _E, re.ASCII),
        _safe(_us_ssn.is_valid),
        keywords=("ssn", "social security", "social-security"),
        window=24,
        score=0.8,
        digits_needed=9,
        numeric=True,
    ),
    FR_NIR: NationalIdSpec(
        FR_NIR,
        re.compile(_B + r"[12]([ .-]?)\d{2}\1(?:0[1-9]|1[0-2]|[2-9]\d)\1(?:\d{2}|2[AB])\1\d{3}\1\d{3}\1\d{2}" + _E, re.ASCII),
        _safe(_fr_nir.is_valid),
        digits_needed=13,  # Corsican "2A"/"2B" NIRs split the digit cluster: not found on this fast path
        numeric=True,
    ),
    # Corsican NIRs ("2A"/"2B" department) split the digit clusters: searched in the whole text,
    # only when "2A"/"2B" occurs
    "FR_NIR_CORSICA": NationalIdSpec(
        FR_NIR,
        re.compile(_B + r"[12]([ .-]?)\d{2}\1(?:0[1-9]|1[0-2]|[2-9]\d)\1(?:2[AB])\1\d{3}\1\d{3}\1\d{2}" + _E, re.ASCII),
        _safe(_fr_nir.is_valid),
        digits_needed=11,
        literal=("2A", "2B"),
    ),
    ES_DNI: NationalIdSpec(
        ES_DNI,
        re.compile(_B + r"\d{8}-?[A-Z]" + _E, re.ASCII),
        _safe(_es_dni.is_valid),
        digits_needed=8,
        numeric=True,
        pad=(0, 2),
    ),
    IT_FISCAL_CODE: NationalIdSpec(
        IT_FISCAL_CODE,
        re.compile(
            _B + r"[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]" + _E,
            re.ASCII,
        ),
        _safe(_it_cf.is_valid),
    ),
    GB_NINO: NationalIdSpec(
        GB_NINO,
        re.compile(
            _B + r"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]" + _E,
            re.ASCII,
        ),
        _gb_nino_valid,
        digits_needed=6,
        numeric=True,
        pad=(3, 2),
    ),
    GB_NHS: NationalIdSpec(
        GB_NHS,
        re.compile(_B + r"\d{3}([ .-]?)\d{3}\1\d{4}" + _E, re.ASCII),
        _safe(_gb_nhs.is_valid),
        keywords=("nhs",),
        digits_needed=10,
        numeric=True,
    ),
    DE_IDNR: NationalIdSpec(
        DE_IDNR,
        re.compile(_B + r"\d{2}([ .-]?)\d{3}\1\d{3}\1\d{3}" + _E, re.ASCII),
        _safe(_de_idnr.is_valid),
        keywords=("idnr", "steuer-id", "steuerid", "identifikationsnummer", "steueridentifikationsnummer", "tax id"),
        digits_needed=11,
        numeric=True,
    ),
}

DEFAULT_NATIONAL_IDS = (US_SSN, FR_NIR, ES_DNI, IT_FISCAL_CODE, GB_NINO, GB_NHS, DE_IDNR)


def register_national_id(name: str, spec: NationalIdSpec) -> None:
    NATIONAL_ID_SPECS[name] = spec


class NationalIdDetector:
    name = "national_id"
    optional = False

    def __init__(self, ids: tuple[str, ...] | list[str] = DEFAULT_NATIONAL_IDS) -> None:
        specs = []
        for key in ids:
            if key not in NATIONAL_ID_SPECS:
                raise ValueError(f"unknown national id {key!r}; known: {', '.join(sorted(NATIONAL_ID_SPECS))}")
            specs.append(NATIONAL_ID_SPECS[key])
            if key == US_SSN:
                specs.append(NATIONAL_ID_SPECS["US_SSN_BARE"])
            if key == FR_NIR:
                specs.append(NATIONAL_ID_SPECS["FR_NIR_CORSICA"])
        self.specs = tuple(specs)
        self.entity_types = tuple(dict.fromkeys(s.entity_type for s in specs))

    def detect(self, ctx: ScanContext) -> list[Finding]:
        out: list[Finding] = []
        digits = ctx.digit_count
        text = ctx.text
        for spec in self.specs:
            if digits < spec.digits_needed:
                continue
            if spec.keywords and not any(k in ctx.lower for k in spec.keywords):
                continue
            if spec.literal and not any(lit in text for lit in spec.literal):
                continue
            if spec.numeric:
                matches = (
                    m
                    for lo, hi in ctx.digit_clusters(spec.digits_needed)
                    for m in spec.pattern.finditer(text, max(0, lo - spec.pad[0]), hi + spec.pad[1])
                )
            else:
                matches = spec.pattern.finditer(text)
            for m in matches:
                if m.start() and (text[m.start() - 1].isalnum() or text[m.start() - 1] in "_-"):
                    continue
                if spec.numeric and _AFTER_COUNTRY_CODE.search(text, max(0, m.start() - 6), m.start()):
                    continue  # "+55 800 69 3114": the rest of a phone number
                if m.end() < len(text) and (text[m.end()].isalnum() or text[m.end()] in "_-"):
                    continue
                if spec.keywords:
                    before = ctx.lower[max(0, m.start() - spec.window) : m.start()]
                    if "#" in before[-3:] or not any(k in before for k in spec.keywords):
                        continue
                if spec.validator(m.group()):
                    out.append(Finding(m.start(), m.end(), spec.entity_type, spec.score, self.name))
        return out
