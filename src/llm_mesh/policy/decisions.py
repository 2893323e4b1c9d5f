"""What a policy did to a request, without the values: the audit trail's view."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class PolicyDecisions:
    """Value-free summary for the audit trail: action -> entity type -> count."""

    policy: str
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    alerts: dict[str, int] = field(default_factory=dict)
    blocked: bool = False
    detector_errors: list[str] = field(default_factory=list)  # optional detectors skipped (fail open)

    @property
    def total(self) -> int:
        return sum(sum(v.values()) for v in self.counts.values())

    def entity_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for per_type in self.counts.values():
            for etype, n in per_type.items():
                out[etype] = out.get(etype, 0) + n
        return dict(sorted(out.items()))

    def merge(self, other: "PolicyDecisions") -> "PolicyDecisions":
        for action, per_type in other.counts.items():
            mine = self.counts.setdefault(action, {})
            for etype, n in per_type.items():
                mine[etype] = mine.get(etype, 0) + n
        for etype, n in other.alerts.items():
            self.alerts[etype] = self.alerts.get(etype, 0) + n
        self.blocked = self.blocked or other.blocked
        self.detector_errors.extend(e for e in other.detector_errors if e not in self.detector_errors)
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "counts": {a: dict(sorted(t.items())) for a, t in sorted(self.counts.items())},
            "alerts": dict(sorted(self.alerts.items())),
            "blocked": self.blocked,
            "detector_errors": list(self.detector_errors),
        }
