"""Prompt-injection heuristics for user and retrieved content (pure, no I/O).

Signals, each with a weight; a text's score is the highest weight found (plus a
small bonus per further distinct signal, capped at 1.0):

- ``instruction_override``: "ignore (all) previous/above instructions", "disregard
  the system prompt", "forget everything you were told", "new instructions:";
- ``prompt_exfiltration``: "reveal/print your system prompt / hidden instructions";
- ``role_play_jailbreak``: DAN / "do anything now", "developer mode", "you are no
  longer bound by", "pretend you have no restrictions", "jailbreak";
- ``role_marker``: fake chat-template markers (``<|im_start|>system``, ``[INST]``,
  ``### System:``) inside content;
- ``hidden_unicode``: Unicode tag characters (U+E0000..U+E007F, invisible ASCII
  smuggling), bidi overrides, runs of zero-width characters;
- ``encoded_instructions``: a base64 blob that decodes to text containing any of
  the phrases above.

Each phrase is looked for in the text as written, then (when none is found) in the text
with its disguises undone: zero-width and bidi characters dropped, fullwidth letters and
Cyrillic look-alikes folded, leetspeak digits read as letters, words split by punctuation
joined. Override and prompt-request phrases are also known in Spanish, French, German,
Portuguese and Italian.

An optional :class:`InjectionClassifier` (a model behind any interface) adds its
score as the ``classifier`` signal. Findings carry kinds and spans, never text.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from dataclasses import dataclass, field
from collections.abc import Hashable
from typing import Protocol, Sequence, runtime_checkable

from llm_mesh.policy.scan_memo import ScanMemo

_PHRASES: tuple[tuple[str, float, str], ...] = (
    (
        "instruction_override",
        0.9,
        r"\b(?:ignore|disregard|forget|override|bypass|skip)\s+(?:all\s+|any\s+|the\s+|your\s+|every\s+|of\s+)*"
        r"(?:previous|prior|above|earlier|preceding|former|original|system|initial|existing)\s+"
        r"(?:instructions?|prompts?|rules|directions|guidelines|messages?|context|constraints)",
    ),
    ("instruction_override", 0.8, r"\bforget\s+(?:everything|all)\s+(?:you\s+(?:were|have\s+been)\s+told|above|before)"),
    ("instruction_override", 0.6, r"(?:^|\n)\s*(?:new|updated|real|actual)\s+instructions?\s*:"),
    ("instruction_override", 0.7, r"\bdo\s+not\s+follow\s+(?:the|your|any)\s+(?:previous|system|above|original)\b"),
    (
        "prompt_exfiltration",
        0.8,
        r"\b(?:reveal|print|show|repeat|output|display|leak|tell\s+me)\s+(?:me\s+)?(?:your|the)\s+"
        r"(?:system\s+prompt|hidden\s+(?:instructions?|prompt)|initial\s+(?:instructions?|prompt)|instructions\s+above)",
    ),
    ("role_play_jailbreak", 0.8, r"\bdo\s+anything\s+now\b"),
    ("role_play_jailbreak", 0.8, r"\bDAN\b(?=.{0,200}(?:\bmode\b|jailbr|no\s+restrictions|stay\s+in\s+character))"),
    ("role_play_jailbreak", 0.75, r"\b(?:jailbreak|unrestricted|evil|unfiltered)\s+mode\b"),
    # "developer mode" / "god mode" are ordinary words (phones, games) unless the model is put in them
    ("role_play_jailbreak", 0.75, r"(?:\byou\s+are\s+(?:now\s+)?in|\bswitch\s+to|\benter|\bactivate|\benable)\s+"
                                  r"(?:developer|god)\s+mode\b(?!\s+on\b)(?!\s+in\b)"),
    ("role_play_jailbreak", 0.8, r"\byou\s+are\s+(?:no\s+longer|not)\s+(?:bound|restricted|limited)\s+by\b"),
    (
        "role_play_jailbreak",
        0.75,
        r"\b(?:pretend|act\s+as\s+if|imagine)\s+(?:that\s+)?you\s+(?:have|had|are)\s+(?:no|without)\s+"
        r"(?:restrictions|rules|filters|limits|guidelines|content\s+policy)",
    ),
    ("role_play_jailbreak", 0.6, r"\bjailbr(?:eak|oken)\b(?!\s+(?:an?\s+|my\s+|the\s+|your\s+)?(?:iphone|ipad|phone|device|"
                                 r"ps\d|playstation|console|kindle|android|switch|router|tablet)s?\b)"),
    ("role_play_jailbreak", 0.75, r"\byou\s+(?:now\s+)?have\s+no\s+(?:guidelines|rules|restrictions|filters|limits)\b"),
    # "ignore the above and ...", "ignore all that, ...": the whole context, not a named thing in it
    ("instruction_override", 0.7, r"\b(?:ignore|disregard|forget)\s+(?:all\s+(?:of\s+)?)?(?:the\s+above|all\s+that|"
                                  r"everything\s+(?:above|before|else))\s*(?:,|and\b|\.|;|:|instead)"),
    ("instruction_override", 0.7, r"\boverrid(?:e|es|ing)\s+(?:every|all|any)\s+(?:earlier|previous|prior|other)\b"),
    ("instruction_override", 0.8, r"\b(?:ignore|disregard)\s+what\s+(?:the\s+|your\s+)?(?:developer|system|admin|operator)s?"
                                  r"\s+(?:said|told|wrote|says)"),
    # the same overrides and prompt requests in Spanish, French, German, Portuguese and Italian
    ("instruction_override", 0.9, r"\b(?:ignora|olvida|no\s+sigas|ignore[sz]?|oublie[sz]?|ne\s+suis\s+pas|ignoriere|"
                                  r"vergiss|missachte|esqueça|desconsidere|dimentica|non\s+seguire)\s+"
                                  r"(?:todas\s+|toutes\s+|alle\s+|tutte\s+)?(?:las\s+|les\s+|die\s+|as\s+|le\s+)?"
                                  r"(?:instrucciones|reglas|indicaciones|instructions|consignes|règles|anweisungen|regeln|"
                                  r"instruções|regras|istruzioni|regole)\s+(?:anteriores|previas|précédentes|ci-dessus|"
                                  r"antérieures|acima|precedenti|sopra)"),
    ("instruction_override", 0.9, r"\b(?:ignoriere|vergiss|missachte)\s+(?:alle\s+)?(?:die\s+)?(?:vorherigen|obigen|"
                                  r"bisherigen|früheren)\s+(?:anweisungen|regeln|instruktionen)"),
    ("prompt_exfiltration", 0.8, r"\b(?:muestra|revela|dime|révèle[sz]?|montre[sz]?|affiche[sz]?|zeig\w*|verrat\w*|"
                                 r"mostre|revele|mostrami|rivelami|mostra)\s+(?:mir\s+)?(?:tu|el|ton|votre|le|deinen|den|"
                                 r"o\s+seu|o|il\s+tuo|il|tuo)?\s*(?:prompt\s+(?:del|de|do|di)\s+sistema|prompt\s+système|"
                                 r"systemprompt)"),
    ("role_marker", 0.7, r"<\|(?:im_start|im_end|system|endoftext)\|>|\[/?INST\]|<<SYS>>|(?:^|\n)\s*#{2,}\s*(?:system|assistant)\s*:"),
)
# Patterns run on the lower-cased text (case-insensitive matching in ``re`` is several
# times slower); none of them uses an upper-case escape, so lower-casing them is safe.
_PHRASE_RE = [(kind, weight, re.compile(p.lower(), re.DOTALL)) for kind, weight, p in _PHRASES]
# The prefilter: C-speed substring checks on the lower-cased text; most texts contain none.
_KEYWORDS = (
    "ignor", "disregard", "forget", "overrid", "bypass", "skip", "instruction", "reveal", "prompt", "anything now",
    "dan ", "dan,", "mode", "bound by", "restricted by", "limited by", "pretend", "act as", "imagine", "jailbr",
    "<|", "inst]", "<<sys", "##", "do not follow", "have no", "olvid", "no sigas", "oubli", "ne suis pas", "vergiss",
    "missacht", "esque", "desconsider", "dimentic", "non seguire",
)
_HIDDEN = re.compile("[\U000e0000-\U000e007f]+|[\u202a-\u202e\u2066-\u2069]|[\u200b-\u200d\u2060\ufeff]{3,}")
_B64 = re.compile(r"(?<![A-Za-z0-9+/=])(?:[A-Za-z0-9+/]{4}){8,}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?(?![A-Za-z0-9+/=])")


# Undoing the cheap disguises: format characters (zero-width, bidi) dropped, NFKC (fullwidth,
# mathematical letters), Cyrillic/Greek look-alikes to Latin, leetspeak digits inside words,
# and words split by punctuation runs ("ignore_all - the... previous") joined by one space.
_HOMOGLYPHS = str.maketrans("аеорсхуіјѕԁһӏАЕОРСХУІЈЅΑΒΕΗΙΚΜΝΟΡΤΧΥΖο", "aeopcxyijsdhlAEOPCXYIJSABEHIKMNOPTXYZo")
_LEET = str.maketrans("4310579@$", "aeiostgas")
_LEET_WORD = re.compile(r"\b(?=[a-z]*[4310579@$])(?=[4310579@$]*[a-z])[a-z4310579@$]{2,}\b")
_LEET_HINT = re.compile(r"[a-z][4310579@$]|[4310579@$][a-z]")
# separator runs, anything but one plain space, become one space
_SPLIT = re.compile(r"[\s\-.,…·*|~+]{2,}|[\-.,…·*|~+\t\n\r\f\v]")
# ... which, for text whose only spaces are ASCII ones, is every separator mapped to a space by
# ``str.translate`` and space runs collapsed: the same result at under half the regex's cost
_SEPARATORS = str.maketrans({c: " " for c in "\t\n\r\f\v-.,…·*|~+"})
_SPACE_RUN = re.compile(" {2,}")
_OTHER_SPACE = re.compile(r"[^\S \t\n\r\f\v]")
_LEET_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz4310579@$")
# snake_case of two or three words is an identifier (``system_prompt``); a sentence_joined_by_underscores is not
_SNAKE_SENTENCE = re.compile(r"[^\W_]+(?:_+[^\W_]+){3,}")
_FORMAT = re.compile("[\u00ad\u034f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff\U000e0000-\U000e007f]")


def _undisguised(text: str) -> str | None:
    """``text`` without its disguises, or None when it had none."""
    lower = text.lower()
    plain = lower
    if not text.isascii():
        plain = _FORMAT.sub("", text)
        if not unicodedata.is_normalized("NFKC", plain):
            plain = unicodedata.normalize("NFKC", plain)
        plain = plain.translate(_HOMOGLYPHS).lower()
    if _LEET_HINT.search(plain):
        plain = _unleet(plain)
    if "_" in plain:
        plain = _SNAKE_SENTENCE.sub(lambda m: re.sub("_+", " ", m.group()), plain)
    if _OTHER_SPACE.search(plain):
        plain = _SPLIT.sub(" ", plain)
    else:
        plain = _SPACE_RUN.sub(" ", plain.translate(_SEPARATORS))
    return None if plain == lower else plain


def _unleet(text: str) -> str:
    """``_LEET_WORD.sub(translate)`` over ``text``, run only on the letter/leet runs that hold a
    hint (a letter beside a leet digit), since every match lies inside such a run: the regex's
    word-boundary lookarounds at every word of a long text cost more than the rest of the scan.
    ``finditer`` with ``pos``/``endpos`` sees the characters around the run, so ``\\b`` is judged
    as on the whole text (the one character kept after the run is never part of a match)."""
    parts: list[str] = []
    done = 0  # text[:done] is in parts
    scanned = 0  # runs before this are handled
    for hint in _LEET_HINT.finditer(text):
        if hint.start() < scanned:
            continue
        start = hint.start()
        while start > scanned and text[start - 1] in _LEET_CHARS:
            start -= 1
        end = hint.end()
        while end < len(text) and text[end] in _LEET_CHARS:
            end += 1
        for m in _LEET_WORD.finditer(text, start, min(end + 1, len(text))):
            parts.append(text[done : m.start()])
            parts.append(m.group().translate(_LEET))
            done = m.end()
        scanned = end
    if not parts:
        return text
    parts.append(text[done:])
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class InjectionSignal:
    kind: str
    start: int
    end: int
    weight: float


@dataclass(frozen=True)
class InjectionResult:
    score: float
    signals: tuple[InjectionSignal, ...] = ()

    @property
    def kinds(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.signals:
            out[s.kind] = out.get(s.kind, 0) + 1
        return dict(sorted(out.items()))


@runtime_checkable
class InjectionClassifier(Protocol):
    """Optional model-based detector: a probability that ``text`` is an injection attempt."""

    def score(self, text: str) -> float: ...


def _phrase_signals(text: str, offset: int = 0) -> list[InjectionSignal]:
    lower = text.lower()
    if not any(k in lower for k in _KEYWORDS):
        return []
    out = []
    for kind, weight, rx in _PHRASE_RE:
        for m in rx.finditer(lower):
            out.append(InjectionSignal(kind, offset + m.start(), offset + m.end(), weight))
    return out


@dataclass
class InjectionDetector:
    classifier: InjectionClassifier | None = None
    max_scan_chars: int = 200_000
    _empty: InjectionResult = field(default_factory=lambda: InjectionResult(0.0))
    _memo: ScanMemo[InjectionResult] = field(default_factory=ScanMemo, repr=False, compare=False)

    def scan(self, text: str) -> InjectionResult:
        if not text:
            return self._empty
        text = text[: self.max_scan_chars]
        signals = _phrase_signals(text)
        if not signals:
            plain = _undisguised(text)
            if plain is not None:  # a disguised phrase: its span is the whole text
                signals = [InjectionSignal(sg.kind, 0, len(text), sg.weight) for sg in _phrase_signals(plain)[:1]]
        if not text.isascii():
            for m in _HIDDEN.finditer(text):
                signals.append(InjectionSignal("hidden_unicode", m.start(), m.end(), 0.7 if len(m.group()) > 1 else 0.5))
        if len(text) >= 32 and any(len(word) >= 32 for word in text.split()):  # a payload has no spaces
            for m in _B64.finditer(text):
                try:
                    decoded = base64.b64decode(m.group(), validate=True).decode("utf-8")
                except (binascii.Error, UnicodeDecodeError, ValueError):
                    continue
                if _phrase_signals(decoded):
                    signals.append(InjectionSignal("encoded_instructions", m.start(), m.end(), 0.9))
        if self.classifier is not None:
            p = float(self.classifier.score(text))
            if p > 0:
                signals.append(InjectionSignal("classifier", 0, len(text), min(max(p, 0.0), 1.0)))
        if not signals:
            return self._empty
        kinds = {s.kind for s in signals}
        score = min(1.0, max(s.weight for s in signals) + 0.05 * (len(kinds) - 1))
        return InjectionResult(score, tuple(sorted(signals, key=lambda s: (s.start, s.kind))))

    def scan_all(self, texts: Sequence[str], scope: Hashable = None) -> InjectionResult:
        """The strongest result over ``texts``. With a ``scope`` (the app), a text the scope sent
        before is not scanned again (scan_memo.py says why)."""
        best = self._empty
        signals: list[InjectionSignal] = []
        for t in texts:
            r = None if scope is None else self._memo.get(scope, t)
            if r is None:
                r = self.scan(t)
                if scope is not None:
                    self._memo.put(scope, t, r)
            signals.extend(r.signals)
            if r.score > best.score:
                best = r
        return InjectionResult(best.score, tuple(signals)) if signals else self._empty
