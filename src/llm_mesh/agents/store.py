"""Agent runs store: one record per run, one per step (model call or tool call).

Adapters: ``stores/sqlite/agents.py`` (embedded), ``stores/dynamodb/agents.py``
(AWS) and the in-memory reference below; one contract test suite covers all.
Runs and steps are plain JSON dicts; step keys sort in execution order
(``"0001.000"``: turn 1, the model call; ``"0001.002"``: turn 1, tool call 2), so a
retried task overwrites its own step instead of adding one.
"""

from __future__ import annotations

import copy
import threading
from typing import Any, Protocol

RUN_FIELDS = (
    "run_id", "agent", "app", "principal", "status", "input", "answer", "error", "stop_reason", "created_at",
    "updated_at", "ended_at", "prompt_tokens", "completion_tokens", "cost_usd", "steps", "parent", "mode",
)


def step_key(turn: int, index: int) -> str:
    return f"{turn:04d}.{index:03d}"


class AgentRunStore(Protocol):
    def create_run(self, run: dict[str, Any]) -> None:
        """Insert a run (``run_id`` unique); creating it again is a no-op (retried tasks)."""
        ...

    def update_run(self, run_id: str, fields: dict[str, Any]) -> None: ...

    def get_run(self, run_id: str) -> dict[str, Any] | None: ...

    def put_step(self, run_id: str, key: str, step: dict[str, Any]) -> None: ...

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        """Every step of a run, by key ascending, each with its ``key``."""
        ...

    def list_runs(self, app: str, agent: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Newest first, one app's runs only."""
        ...


class MemoryAgentRunStore:
    """The reference implementation (tests, and meshes without a runs table)."""

    def __init__(self) -> None:
        self._runs: dict[str, dict[str, Any]] = {}
        self._steps: dict[str, dict[str, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def create_run(self, run: dict[str, Any]) -> None:
        with self._lock:
            self._runs.setdefault(run["run_id"], copy.deepcopy(run))

    def update_run(self, run_id: str, fields: dict[str, Any]) -> None:
        with self._lock:
            if run_id in self._runs:
                self._runs[run_id].update(copy.deepcopy(fields))

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        with self._lock:
            run = self._runs.get(run_id)
            return copy.deepcopy(run) if run else None

    def put_step(self, run_id: str, key: str, step: dict[str, Any]) -> None:
        with self._lock:
            self._steps.setdefault(run_id, {})[key] = {**copy.deepcopy(step), "key": key}

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        with self._lock:
            steps = self._steps.get(run_id, {})
            return [copy.deepcopy(steps[k]) for k in sorted(steps)]

    def list_runs(self, app: str, agent: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        with self._lock:
            runs = [r for r in self._runs.values() if r["app"] == app and (agent is None or r["agent"] == agent)]
        runs.sort(key=lambda r: r["created_at"], reverse=True)
        return [copy.deepcopy(r) for r in runs[:limit]]
