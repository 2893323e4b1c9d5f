"""A seeded PII corpus: sentences in many locales with planted entities (and their spans),
look-alike negatives, and an obfuscated variant of every sample.

    from pii_corpus import generate
    samples = generate(size=2000, seed=7)          # clean
    hidden = generate(size=2000, seed=7, obfuscated=True)

Entities: EMAIL, PHONE, CREDIT_CARD, IBAN, IP_ADDRESS and national ids (US_SSN, FR_NIR,
ES_DNI, IT_FISCAL_CODE, GB_NINO, GB_NHS, DE_IDNR). Values come from Faker in 24 locales
and from the standards (``values.py``); the sentences are this corpus's own templates.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from corpora import obfuscate as ob
from corpora.lookalikes import lookalike
from corpora.templates import PHRASES, TEMPLATES, label_for
from corpora.values import LOCALES, ValueFactory

STRUCTURED = ("EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "IP_ADDRESS", "NATIONAL_ID")
NATIONAL = {  # id type -> locale it is planted in
    "US_SSN": "en_US", "FR_NIR": "fr_FR", "ES_DNI": "es_ES", "IT_FISCAL_CODE": "it_IT",
    "GB_NINO": "en_GB", "GB_NHS": "en_GB", "DE_IDNR": "de_DE",
}
DISGUISES = {
    "EMAIL": ob.TEXTUAL + ("glued",),
    "PHONE": ob.NUMERIC,
    "CREDIT_CARD": ob.NUMERIC,
    "IBAN": ob.NUMERIC,
    "IP_ADDRESS": (ob.fullwidth, ob.unicode_digits, ob.math_letters, ob.zero_width, ob.bidi),
    "US_SSN": ob.NUMERIC,
    "FR_NIR": ob.NUMERIC,
    "GB_NHS": ob.NUMERIC,
    "DE_IDNR": ob.NUMERIC,
    "ES_DNI": ob.TEXTUAL + (ob.unicode_digits,),
    "IT_FISCAL_CODE": ob.TEXTUAL + (ob.unicode_digits,),
    "GB_NINO": ob.TEXTUAL + (ob.unicode_digits,),
}


@dataclass
class Span:
    kind: str  # entity type, or the look-alike kind
    start: int
    end: int


@dataclass
class Sample:
    text: str
    locale: str
    entities: list[Span] = field(default_factory=list)
    lookalikes: list[Span] = field(default_factory=list)


class _Builder:
    def __init__(self, locale: str) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.sample = Sample("", locale)

    def add(self, text: str, kind: str | None = None, lookalike: bool = False) -> None:
        if kind is not None:
            target = self.sample.lookalikes if lookalike else self.sample.entities
            target.append(Span(kind, self.size, self.size + len(text)))
        self.parts.append(text)
        self.size += len(text)

    def done(self) -> Sample:
        self.sample.text = "".join(self.parts)
        return self.sample


class CorpusGenerator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.values = ValueFactory(seed)

    def entity(self, family: str) -> tuple[str, str, str]:
        """(locale, entity type, value) for one structured family."""
        r, v = self.rng, self.values
        if family == "NATIONAL_ID":
            etype = r.choice(sorted(NATIONAL))
            loc = NATIONAL[etype]
            for _ in range(20):
                got_type, value = v.national_id(loc)
                if got_type == etype:
                    return loc, etype, value
            return loc, got_type, value
        loc = r.choice(sorted(LOCALES))
        if family == "EMAIL":
            return loc, family, v.email(loc)
        if family == "PHONE":
            return loc, family, v.phone(loc)
        if family == "CREDIT_CARD":
            return loc, family, v.card()
        if family == "IBAN":
            return loc, family, v.iban(loc)
        return loc, family, v.ip(loc)

    def sample(self, obfuscated: bool) -> Sample:
        r = self.rng
        family = r.choice(STRUCTURED)
        loc, etype, value = self.entity(family)
        lang = loc.split("_")[0]
        template = r.choice(TEMPLATES.get(lang, TEMPLATES["en"]))
        b = _Builder(loc)
        before, rest = template.split("{pii}")
        look_first = "{look}" in before
        self._literal(b, before, look_first)
        label = label_for(etype, lang)
        if label:
            b.add(label + " ")
        self._plant(b, etype, value, obfuscated)
        self._literal(b, rest, not look_first)
        if r.random() < 0.3:  # a second sentence with only a look-alike
            b.add(" ")
            self._literal(b, r.choice(PHRASES.get(lang, PHRASES["en"])), True)
        return b.done()

    def _literal(self, b: _Builder, text: str, has_look: bool) -> None:
        if has_look and "{look}" in text:
            head, tail = text.split("{look}", 1)
            b.add(head)
            kind, value = lookalike(self.rng)
            b.add(value, kind, lookalike=True)
            b.add(tail)
        else:
            b.add(text)

    def _plant(self, b: _Builder, etype: str, value: str, obfuscated: bool) -> None:
        if not obfuscated:
            b.add(value, etype)
            return
        disguise = self.rng.choice(DISGUISES[etype])
        if disguise == "glued":
            self._glued_email(b, value)
            return
        if disguise is ob.odd_separators and etype not in ("CREDIT_CARD", "IBAN") and not any(c in value for c in " -."):
            disguise = ob.zero_width  # a compact phone or id has no groups to re-separate
        b.add(disguise(value, self.rng), etype)

    def _glued_email(self, b: _Builder, value: str) -> None:
        """An address run into its neighbours: another address, a card, a phone's digits."""
        r, v = self.rng, self.values
        shape = r.randrange(4)
        b.add(value, "EMAIL")
        if shape == 0:
            b.add(v.email("en_US"), "EMAIL")
        elif shape == 1:
            card = v.card().replace(" ", "-")
            b.add(card, "CREDIT_CARD")
            b.add("-")
            b.add(v.email("en_GB"), "EMAIL")
        elif shape == 2:
            b.add(",")
            b.add(v.email("fr_FR"), "EMAIL")
        else:
            b.add(";" + r.choice(["tel:", "fax:"]))
            b.add(v.phone("en_US"), "PHONE")


def generate(size: int, seed: int, obfuscated: bool = False) -> list[Sample]:
    gen = CorpusGenerator(seed)
    return [gen.sample(obfuscated) for _ in range(size)]


def generate_lookalikes(size: int, seed: int) -> list[Sample]:
    """Sentences with look-alikes only (no entity)."""
    r = random.Random(seed)
    gen = CorpusGenerator(seed + 1)
    out = []
    for _ in range(size):
        loc = r.choice(sorted(LOCALES))
        lang = loc.split("_")[0]
        b = _Builder(loc)
        gen._literal(b, r.choice(PHRASES.get(lang, PHRASES["en"])), True)
        b.add(" ")
        gen._literal(b, r.choice(PHRASES["en"]), True)
        out.append(b.done())
    return out
