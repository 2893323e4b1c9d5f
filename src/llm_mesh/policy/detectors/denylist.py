"""Deny-list terms (customer ids, project code names...): case-insensitive,
whole-word, any number of terms in one trie-shaped regex.

Terms come from a :class:`DenyListSource`; the static one holds terms from the
config, table-backed sources (DynamoDB, SQLite) implement the same protocol and
bump ``version`` when their terms change, which triggers a recompile.
"""

from __future__ import annotations

import re
import threading
from typing import Hashable, Iterable, Protocol, runtime_checkable

from llm_mesh.policy.detectors.base import ScanContext, trie_regex
from llm_mesh.policy.findings import DENY_TERM, Finding


@runtime_checkable
class DenyListSource(Protocol):
    def terms(self) -> Iterable[str]: ...

    def version(self) -> Hashable: ...


class StaticDenyList:
    def __init__(self, terms: Iterable[str]) -> None:
        self._terms = tuple(t for t in terms if t and t.strip())

    def terms(self) -> Iterable[str]:
        return self._terms

    def version(self) -> Hashable:
        return 0


def compile_terms(terms: Iterable[str]) -> re.Pattern[str] | None:
    body = trie_regex(terms)
    if body is None:
        return None
    # the left word boundary is checked in code: a leading lookbehind defeats re's prefix scan
    return re.compile(body + r"(?!\w)", re.IGNORECASE)


def find_terms(pattern: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    out = []
    pos = 0
    while True:
        m = pattern.search(text, pos)
        if m is None:
            return out
        s = m.start()
        if s and (text[s - 1].isalnum() or text[s - 1] == "_"):
            pos = s + 1
            continue
        out.append((s, m.end()))
        pos = m.end()


class DenyListDetector:
    name = "deny_list"
    optional = False

    def __init__(self, source: DenyListSource, entity_type: str = DENY_TERM, score: float = 1.0) -> None:
        self.source = source
        self.entity_types = (entity_type,)
        self.entity_type = entity_type
        self.score = score
        self._lock = threading.Lock()
        self._version: Hashable = object()
        self._pattern: re.Pattern[str] | None = None
        self._refresh()

    def _refresh(self) -> None:
        version = self.source.version()
        if version != self._version:
            with self._lock:
                if version != self._version:
                    self._pattern = compile_terms(self.source.terms())
                    self._version = version

    def state_version(self) -> Hashable:
        """Changes when the terms do: a remembered scan of an older version is not reused."""
        return self.source.version()

    def detect(self, ctx: ScanContext) -> list[Finding]:
        self._refresh()
        pattern = self._pattern
        if pattern is None:
            return []
        return [Finding(s, e, self.entity_type, self.score, self.name) for s, e in find_terms(pattern, ctx.text)]
