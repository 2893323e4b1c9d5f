"""Seeded generators of PII values (the entity, its type, the locale's region).

Values come from Faker where it produces real-format values, and from the
standards themselves where Faker does not (all IIN ranges and lengths of cards,
phone numbers valid in libphonenumber's metadata, national ids with their check
digits). Every generated value is valid: real entities are, and a detector that
validates check digits must not be scored against numbers no issuer could give.
"""

from __future__ import annotations

import ipaddress
import random

import phonenumbers
from faker import Faker
from phonenumbers import PhoneNumberFormat as PNF
from phonenumbers import PhoneNumberType as PNT
from stdnum import iban as stdnum_iban
from stdnum import luhn
from stdnum.de import idnr as de_idnr
from stdnum.es import dni as es_dni
from stdnum.fr import nir as fr_nir
from stdnum.gb import nhs as gb_nhs
from stdnum.it import codicefiscale as it_cf
from stdnum.us import ssn as us_ssn

# Faker locale -> phone region
LOCALES = {
    "en_US": "US", "en_GB": "GB", "fr_FR": "FR", "de_DE": "DE", "es_ES": "ES", "it_IT": "IT",
    "nl_NL": "NL", "pt_BR": "BR", "ja_JP": "JP", "en_AU": "AU", "en_IN": "IN", "pl_PL": "PL",
    "sv_SE": "SE", "en_CA": "CA", "en_IE": "IE", "de_AT": "AT", "de_CH": "CH", "pt_PT": "PT",
    "da_DK": "DK", "no_NO": "NO", "fi_FI": "FI", "en_NZ": "NZ", "es_MX": "MX", "nl_BE": "BE",
}

# (name, IIN prefixes as (lo, hi) inclusive ranges of a given prefix width, lengths)
CARD_RANGES = [
    ("visa", [(4, 4)], (13, 16, 19)),
    ("mastercard", [(51, 55), (2221, 2720)], (16,)),
    ("amex", [(34, 34), (37, 37)], (15,)),
    ("discover", [(6011, 6011), (644, 649), (65, 65)], (16, 17, 18, 19)),
    ("jcb", [(3528, 3589)], (16, 17, 18, 19)),
    ("diners", [(300, 305), (36, 36), (38, 39), (3095, 3095)], (14, 15, 16, 17, 18, 19)),
    ("maestro", [(50, 50), (56, 58), (6304, 6304), (6759, 6759), (676770, 676774)], tuple(range(12, 20))),
    ("unionpay", [(62, 62), (81, 81)], (16, 17, 18, 19)),
    ("mir", [(2200, 2204)], (16, 17, 18, 19)),
    ("rupay", [(60, 60), (6521, 6522), (508, 508)], (16,)),
    ("verve", [(506099, 506198), (650002, 650027)], (16, 18, 19)),
    ("troy", [(9792, 9792)], (16,)),
    ("uatp", [(1, 1)], (15,)),
    ("elo", [(636368, 636368), (504175, 504175), (509000, 509999)], (16,)),
]
FAKER_CARDS = ("maestro", "mastercard", "visa16", "visa13", "visa19", "amex", "discover", "diners", "jcb15", "jcb16")

PHONE_TYPES = (PNT.MOBILE, PNT.FIXED_LINE, PNT.FIXED_LINE_OR_MOBILE, PNT.TOLL_FREE)


_FAKERS: dict[str, Faker] = {}  # building one costs ~0.1 s: shared, re-seeded by each factory


class ValueFactory:
    """Seeded values. Factories share the Faker instances (each re-seeds them when built),
    so use one factory at a time, as :func:`corpora.pii_corpus.generate` does."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.fakers: dict[str, Faker] = {}
        for i, loc in enumerate(LOCALES):
            f = _FAKERS.get(loc)
            if f is None:
                f = _FAKERS[loc] = Faker(loc)
            f.seed_instance(seed * 1000 + i)
            self.fakers[loc] = f

    # --- email ---------------------------------------------------------------

    def email(self, loc: str) -> str:
        f, r = self.fakers[loc], self.rng
        pick = r.random()
        if pick < 0.4:
            return f.email()
        user = f.user_name()
        if pick < 0.55:
            user += "+" + r.choice(["news", "work", "2024", "x"])
        elif pick < 0.7:
            user = f.first_name().lower() + "." + f.last_name().lower()
        user = "".join(c for c in user if c.isascii() and (c.isalnum() or c in "._+-")).strip(".") or "user"
        domain = f.domain_name() if r.random() < 0.6 else r.choice(
            ["mail.example.co.uk", "example.com.br", "corp.example.de", "example.io", "post.example.fr"])
        return f"{user}@{domain}"

    # --- phone ---------------------------------------------------------------

    def phone(self, loc: str) -> str:
        for _ in range(10):
            value = self._phone(loc)
            try:  # "33.61.35.23" (a Danish number written with dots) is as much an IPv4 address
                ipaddress.IPv4Address(value)
            except ValueError:
                return value
        return value

    def _phone(self, loc: str) -> str:
        region = LOCALES[loc]
        r = self.rng
        if r.random() < 0.3:  # Faker's own formats, when libphonenumber agrees they are numbers
            for _ in range(6):
                raw = self.fakers[loc].phone_number()
                try:
                    if phonenumbers.is_valid_number_for_region(phonenumbers.parse(raw, region), region):
                        return raw
                except phonenumbers.NumberParseException:
                    pass
        num = self._valid_number(region)
        style = r.random()
        if style < 0.3:
            out = phonenumbers.format_number(num, PNF.NATIONAL)
        elif style < 0.6:
            out = phonenumbers.format_number(num, PNF.INTERNATIONAL)
        elif style < 0.7:
            out = phonenumbers.format_number(num, PNF.E164)
        elif style < 0.8:
            intl = phonenumbers.format_number(num, PNF.INTERNATIONAL)
            nat = phonenumbers.format_number(num, PNF.NATIONAL)
            md = phonenumbers.PhoneMetadata.metadata_for_region(region)
            if md.national_prefix == "0" and nat.startswith("0"):  # +44 (0)20 7946 0958
                cc, rest = intl.split(" ", 1)
                out = f"{cc} (0){rest}"
            else:
                out = intl
        elif style < 0.9:
            intl = phonenumbers.format_number(num, PNF.INTERNATIONAL)
            out = intl.replace(" ", r.choice([".", "-"]))
        else:
            out = phonenumbers.format_number(num, PNF.NATIONAL)
            if "-" not in out and "(" not in out:
                out = out.replace(" ", ".")
        if r.random() < 0.15:
            ext = str(r.randint(1, 99999))
            out += r.choice([f" x{ext}", f" ext. {ext}", f" ext {ext}", f"x{ext}", f" #{ext}"])
        return out

    def _valid_number(self, region: str) -> phonenumbers.PhoneNumber:
        r = self.rng
        for _ in range(200):
            ex = phonenumbers.example_number_for_type(region, r.choice(PHONE_TYPES))
            if ex is None:
                continue
            nsn = str(ex.national_number)
            keep = r.randint(1, min(3, len(nsn) - 4))
            cand = nsn[:keep] + "".join(r.choice("0123456789") for _ in nsn[keep:])
            num = phonenumbers.parse("+" + str(ex.country_code) + cand, None)
            if phonenumbers.is_valid_number_for_region(num, region):
                return num
        return phonenumbers.example_number(region)

    # --- card ----------------------------------------------------------------

    def card(self) -> str:
        r = self.rng
        if r.random() < 0.3:
            digits = self.fakers["en_US"].credit_card_number(r.choice(FAKER_CARDS))
        else:
            _, ranges, lengths = r.choice(CARD_RANGES)
            lo, hi = r.choice(ranges)
            prefix = str(r.randint(lo, hi))
            n = r.choice(lengths)
            body = prefix + "".join(r.choice("0123456789") for _ in range(n - len(prefix) - 1))
            digits = body + luhn.calc_check_digit(body)
        sep = r.choice(["", " ", " ", "-"])
        if not sep:
            return digits
        if len(digits) == 15 and digits[:2] in ("34", "37"):
            return sep.join([digits[:4], digits[4:10], digits[10:]])
        return sep.join(digits[i : i + 4] for i in range(0, len(digits), 4))

    # --- iban / ip -------------------------------------------------------------

    def iban(self, loc: str) -> str:
        value = self.fakers[loc].iban()
        for _ in range(20):  # Faker's fallback provider makes GB IBANs of wrong length for some locales
            if stdnum_iban.is_valid(value):
                break
            value = self.fakers[self.rng.choice(["en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL"])].iban()
        if self.rng.random() < 0.5:
            value = " ".join(value[i : i + 4] for i in range(0, len(value), 4))
        return value

    def ip(self, loc: str) -> str:
        f = self.fakers[loc]
        pick = self.rng.random()
        if pick < 0.5:
            return f.ipv4_public()
        if pick < 0.7:
            return f.ipv4_private()
        return f.ipv6()

    # --- national ids ----------------------------------------------------------

    def national_id(self, loc: str) -> tuple[str, str]:
        """(entity type, value) for an id of the locale's country, else a US SSN."""
        r = self.rng
        if loc == "fr_FR":
            v = self.fakers[loc].ssn()
            if fr_nir.is_valid(v):
                return "FR_NIR", v if r.random() < 0.5 else fr_nir.format(v)
        if loc == "es_ES":
            v = self.fakers[loc].nif()
            if es_dni.is_valid(v):
                return "ES_DNI", v
        if loc == "it_IT":
            v = self.fakers[loc].ssn()
            if it_cf.is_valid(v):
                return "IT_FISCAL_CODE", v
        if loc == "en_GB":
            if r.random() < 0.5:
                return "GB_NHS", self._nhs()
            return "GB_NINO", self._nino()
        if loc == "de_DE":
            return "DE_IDNR", self._idnr()
        for _ in range(50):
            v = self.fakers["en_US"].ssn()
            if us_ssn.is_valid(v):
                return "US_SSN", v if r.random() < 0.7 else v.replace("-", " ")
        return "US_SSN", "536-90-4399"

    def _nino(self) -> str:
        r = self.rng
        first = r.choice("ABCEGHJKLMNOPRSTWXYZ")
        second = r.choice("ABCEGHJKLMNPRSTWXYZ")
        if first + second in ("BG", "GB", "NK", "KN", "TN", "NT", "ZZ"):
            first, second = "A", "B"
        digits = "".join(r.choice("0123456789") for _ in range(6))
        suffix = r.choice("ABCD")
        if r.random() < 0.5:
            return f"{first}{second}{digits}{suffix}"
        return f"{first}{second} {digits[:2]} {digits[2:4]} {digits[4:]} {suffix}"

    def _nhs(self) -> str:
        r = self.rng
        while True:
            v = "".join(r.choice("0123456789") for _ in range(10))
            if gb_nhs.is_valid(v):
                return v if r.random() < 0.5 else f"{v[:3]} {v[3:6]} {v[6:]}"

    def _idnr(self) -> str:
        r = self.rng
        while True:
            v = str(r.randint(1, 9)) + "".join(r.choice("0123456789") for _ in range(10))
            if de_idnr.is_valid(v):
                return v if r.random() < 0.5 else f"{v[:2]} {v[2:5]} {v[5:8]} {v[8:]}"
