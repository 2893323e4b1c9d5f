"""Rewriting text according to decided actions, and reversible redaction.

A :class:`RedactionVault` lives for one request. It hands out typed, numbered
placeholders (``[EMAIL_1]``; the same value always gets the same placeholder
within the request) and restores them in the model's answer, in one pass and
never recursively.

Placeholder collisions: the input itself may contain text that looks like a
placeholder (``"[EMAIL_1]"`` typed by a user, planted in a retrieved document,
or formed when a removed value joins its neighbours). Such literals never map
to a stored value: literals seen in the input are reserved so the vault never
hands out that name, and a literal that equals a name the vault already gave
out (e.g. from an earlier message of the same request) is neutralised by
turning its ASCII brackets into full-width ones (``［EMAIL_1］``), so the model
cannot echo it back into someone else's value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from llm_mesh.policy.actions import Action, hash_value, mask_value

PLACEHOLDER_RE = re.compile(r"\[([A-Z][A-Z0-9_]{0,40})_(\d{1,7})\]")
# the longest text that can still become a placeholder: "[" + 41 + "_" + 7 + "]"
MAX_PLACEHOLDER_LEN = 51
_PARTIAL_RE = re.compile(r"\[(?:[A-Z][A-Z0-9_]{0,40}(?:_\d{0,7})?)?\Z")
_TYPE_SANITISE = re.compile(r"[^A-Z0-9_]+")


def placeholder_type(entity_type: str) -> str:
    name = _TYPE_SANITISE.sub("_", entity_type.upper()).strip("_") or "ENTITY"
    if not name[0].isalpha():
        name = "E_" + name
    return name[:40]


def neutralise(literal: str) -> str:
    return "\uff3b" + literal[1:-1] + "\uff3d"


class RedactionVault:
    """Per-request map between placeholders and original values. Never share
    one between requests; never log it."""

    def __init__(self) -> None:
        self._by_value: dict[tuple[str, str], str] = {}
        self._by_placeholder: dict[str, str] = {}
        self._next: dict[str, int] = {}
        self._reserved: set[str] = set()

    def __len__(self) -> int:
        return len(self._by_placeholder)

    def __repr__(self) -> str:  # never show values
        return f"RedactionVault({len(self)} placeholders)"

    @property
    def placeholders(self) -> frozenset[str]:
        return frozenset(self._by_placeholder)

    def is_assigned(self, placeholder: str) -> bool:
        return placeholder in self._by_placeholder

    def reserve(self, text: str) -> None:
        """Reserve every placeholder-looking literal of ``text`` not yet handed out."""
        if "[" not in text:
            return
        for m in PLACEHOLDER_RE.finditer(text):
            if m.group(0) not in self._by_placeholder:
                self._reserved.add(m.group(0))

    def placeholder_for(self, entity_type: str, value: str) -> str:
        key = (entity_type, value)
        ph = self._by_value.get(key)
        if ph is not None:
            return ph
        name = placeholder_type(entity_type)
        n = self._next.get(name, 0)
        while True:
            n += 1
            ph = f"[{name}_{n}]"
            if ph not in self._reserved and ph not in self._by_placeholder:
                break
        self._next[name] = n
        self._by_value[key] = ph
        self._by_placeholder[ph] = value
        return ph

    def restore(self, text: str) -> str:
        if not self._by_placeholder or "[" not in text:
            return text
        table = self._by_placeholder
        return PLACEHOLDER_RE.sub(lambda m: table.get(m.group(0), m.group(0)), text)

    def stream_restorer(self) -> "StreamRestorer":
        return StreamRestorer(self)


class StreamRestorer:
    """Restores placeholders in a streamed answer. ``feed`` returns the text
    safe to release now; a possible placeholder prefix at the end of a delta
    (``"... [EMA"``) is held back until the next delta completes or breaks it.
    Call ``flush`` at the end of the stream."""

    def __init__(self, vault: RedactionVault) -> None:
        self.vault = vault
        self._pending = ""

    def feed(self, delta: str) -> str:
        buf = self._pending + delta
        if not buf:
            return ""
        cut = buf.rfind("[")
        if cut != -1 and len(buf) - cut <= MAX_PLACEHOLDER_LEN and _PARTIAL_RE.match(buf, cut):
            self._pending = buf[cut:]
            buf = buf[:cut]
        else:
            self._pending = ""
        return self.vault.restore(buf)

    def flush(self) -> str:
        buf, self._pending = self._pending, ""
        return self.vault.restore(buf)


@dataclass(frozen=True, slots=True)
class PlannedEdit:
    start: int
    end: int
    entity_type: str
    action: Action


def rewrite(text: str, edits: list[PlannedEdit], vault: RedactionVault | None, salt: bytes | None) -> str:
    """Apply non-overlapping, start-sorted edits; then neutralise any
    placeholder-looking literal the vault already handed out but did not insert here.
    Without a vault, redaction is one-way: ``[EMAIL_REDACTED]``."""
    if vault is not None:
        vault.reserve(text)
    parts: list[str] = []
    inserted: set[int] = set()
    pos = 0
    length = 0
    for e in edits:
        chunk = text[pos : e.start]
        parts.append(chunk)
        length += len(chunk)
        value = text[e.start : e.end]
        if e.action is Action.REDACT:
            if vault is None:
                rep = f"[{placeholder_type(e.entity_type)}_REDACTED]"
            else:
                rep = vault.placeholder_for(e.entity_type, value)
                inserted.add(length)
        elif e.action is Action.HASH:
            if salt is None:
                raise ValueError("hash action needs a salt")
            rep = hash_value(placeholder_type(e.entity_type), value, salt)
        elif e.action is Action.MASK:
            rep = mask_value(e.entity_type, value)
        elif e.action is Action.REMOVE:
            rep = ""
        else:  # allow / alert-only never reach here
            rep = value
        parts.append(rep)
        length += len(rep)
        pos = e.end
    parts.append(text[pos:])
    out = "".join(parts)
    if vault is None:
        return out
    if "[" in out and len(vault):
        bad = [m for m in PLACEHOLDER_RE.finditer(out) if m.start() not in inserted and vault.is_assigned(m.group(0))]
        if bad:
            pieces = []
            pos = 0
            for m in bad:
                pieces.append(out[pos : m.start()])
                pieces.append(neutralise(m.group(0)))
                pos = m.end()
            pieces.append(out[pos:])
            out = "".join(pieces)
    if "[" in out:
        vault.reserve(out)  # literals formed by removals are never handed out later
    return out
