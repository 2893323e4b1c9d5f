"""ResponseStore in memory (tests; a DynamoDB home without a ``responses`` table)."""

from __future__ import annotations

import copy
import threading
from typing import Any


class MemoryResponseStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple[str, str], tuple[float, dict[str, Any], list[dict[str, Any]]]] = {}

    def put(self, app: str, response: dict[str, Any], input_items: list[dict[str, Any]], expires_at: float) -> None:
        with self._lock:
            self._items[(app, response["id"])] = (expires_at, copy.deepcopy(response), copy.deepcopy(input_items))

    def _live(self, app: str, response_id: str, now: float) -> tuple[float, dict[str, Any], list[dict[str, Any]]] | None:
        with self._lock:
            entry = self._items.get((app, response_id))
            if entry is not None and entry[0] <= now:
                del self._items[(app, response_id)]
                return None
            return entry

    def get(self, app: str, response_id: str, now: float) -> dict[str, Any] | None:
        entry = self._live(app, response_id, now)
        return None if entry is None else copy.deepcopy(entry[1])

    def input_items(self, app: str, response_id: str, now: float) -> list[dict[str, Any]] | None:
        entry = self._live(app, response_id, now)
        return None if entry is None else copy.deepcopy(entry[2])

    def delete(self, app: str, response_id: str) -> bool:
        with self._lock:
            return self._items.pop((app, response_id), None) is not None
