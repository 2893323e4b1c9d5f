"""What the prompt catalogue keeps: versions, movable labels (with history), experiment outcomes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class StoredVersion:
    name: str
    version: int
    body: str  # canonical JSON of the PromptSpec
    content_hash: str
    created_at: float
    author: str = ""


@dataclass(frozen=True)
class LabelMove:
    name: str
    label: str
    version: int
    at: float
    actor: str = ""


@dataclass(frozen=True)
class Outcome:
    """One request rendered from a prompt (inside an experiment or not)."""

    request_id: str
    prompt: str
    version: int
    experiment: str  # "" outside experiments
    variant: str
    app: str
    user: str
    ts: float
    status: int
    latency_ms: float
    cost_usd: float
    feedback: float | None = None
    comment: str | None = None


class PromptStore(Protocol):
    def put_version(self, version: StoredVersion) -> bool:
        """Insert if absent; False when that version already exists (versions are immutable)."""
        ...

    def get_version(self, name: str, version: int) -> StoredVersion | None: ...

    def list_versions(self, name: str | None = None) -> list[StoredVersion]:
        """By name, then version ascending."""
        ...

    def get_labels(self, name: str) -> dict[str, int]: ...

    def move_label(self, move: LabelMove) -> None:
        """Point the label at the version and append the move to its history."""
        ...

    def label_history(self, name: str, label: str) -> list[LabelMove]:
        """Newest first."""
        ...

    def record_outcome(self, outcome: Outcome) -> None: ...

    def set_feedback(self, request_id: str, score: float, comment: str | None) -> Outcome | None:
        """Attach feedback to a recorded outcome; None when the request is unknown."""
        ...

    def get_outcome(self, request_id: str) -> Outcome | None: ...

    def outcomes(self, experiment: str) -> list[Outcome]: ...

    def get_state(self, experiment: str) -> dict[str, Any] | None: ...

    def set_state(self, experiment: str, state: dict[str, Any]) -> None: ...
