"""Remembered results of a pure text scan (PII findings, injection signals).

A chat client sends the whole conversation every turn: the system prompt and every earlier
message arrive again, unchanged, and were screened the turn before. A scan's result depends
only on the text and the scanner's configuration, so it is kept and reused. Entries are
scoped per app: a hit is faster than a miss, and a timing difference must never tell one app
what another app sent. Bounded by the characters held, least recently used out first."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

Result = TypeVar("Result")


class ScanMemo(Generic[Result]):
    def __init__(self, max_chars: int = 2_000_000, max_text_chars: int = 16_384) -> None:
        self._entries: OrderedDict[tuple[Hashable, str], Result] = OrderedDict()
        self._chars = 0
        self._max_chars, self._max_text_chars = max_chars, max_text_chars
        self._lock = threading.Lock()  # screening also runs on worker threads (large prompts)
        self.hits = self.misses = 0

    def get(self, scope: Hashable, text: str) -> Result | None:
        if len(text) > self._max_text_chars:
            return None
        key = (scope, text)
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return found

    def put(self, scope: Hashable, text: str, result: Result) -> None:
        if len(text) > self._max_text_chars:
            return
        key = (scope, text)
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = result
            self._chars += len(text)
            while self._chars > self._max_chars:
                (_, old), _ = self._entries.popitem(last=False)
                self._chars -= len(old)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._chars = 0
