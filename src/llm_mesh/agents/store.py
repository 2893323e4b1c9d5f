"""Agent runs store: one record per run, one per step (model call or tool call).

Adapters: ``stores/sqlite/agents.py`` (embedded), ``stores/dynamodb/agents.py``
(AWS) and the in-memory reference below; one contract test suite covers all.
Runs and steps are plain JSON dicts; step keys sort in execution order
(``"0001.000"``: turn 1, the model call; ``"0001.002"``: turn 1, tool call 2), so a
retried task overwrites its own step instead of adding one.

A run's working conversation (the raw messages the model is sent, tool results
included) lives here too, by index, and not in the orchestrator's state: Step
Functions caps a state at 256 KiB, and one tool result can be larger. Each
message is written once at its own index (a retried task rewrites the same one),
and the conversation is dropped when the run ends; the steps keep the record.
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

    def put_messages(self, run_id: str, start: int, messages: list[dict[str, Any]]) -> None:
        """Write ``messages`` at indices ``start``, ``start + 1``, ... (overwriting what is there)."""
        ...

    def messages(self, run_id: str, start: int = 0, stop: int | None = None) -> list[dict[str, Any]]:
        """The conversation's messages at indices ``start`` to ``stop`` (exclusive; None: all), in order."""
        ...

    def drop_messages(self, run_id: str) -> None:
        """Forget the run's conversation (the run ended)."""
        ...


class MemoryAgentRunStore:
    """The reference implementation (tests, and meshes without a runs table)."""

    def __init__(self) -> None:
        self._runs: dict[str, dict[str, Any]] = {}
        self._steps: dict[str, dict[str, dict[str, Any]]] = {}
        self._messages: dict[str, dict[int, dict[str, Any]]] = {}
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

    def put_messages(self, run_id: str, start: int, messages: list[dict[str, Any]]) -> None:
        with self._lock:
            conversation = self._messages.setdefault(run_id, {})
            for offset, message in enumerate(messages):
                conversation[start + offset] = copy.deepcopy(message)

    def messages(self, run_id: str, start: int = 0, stop: int | None = None) -> list[dict[str, Any]]:
        with self._lock:
            conversation = self._messages.get(run_id, {})
            return [copy.deepcopy(conversation[i]) for i in sorted(conversation)
                    if i >= start and (stop is None or i < stop)]

    def drop_messages(self, run_id: str) -> None:
        with self._lock:
            self._messages.pop(run_id, None)
