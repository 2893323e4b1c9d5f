"""Actions a policy takes on a finding, the block error and the alert sink.

Nothing here ever carries a detected value: block messages and alert events
hold entity types and counts only.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Mapping, Protocol, runtime_checkable

from llm_mesh.errors import InvalidRequest, MeshError
from llm_mesh.policy.findings import CATEGORY_SECRET, CREDIT_CARD, EMAIL, IBAN, PHONE, category_of


class Action(str, Enum):
    ALLOW = "allow"  # leave the value alone (still counted in decisions)
    REDACT = "redact"  # typed, numbered, reversible placeholder: [EMAIL_1]
    HASH = "hash"  # keyed sha256 prefix: [EMAIL#3f2a9c1b7d4e5a6b]
    MASK = "mask"  # partial mask: **** **** **** 1234, j***@example.com
    REMOVE = "remove"  # delete the value
    BLOCK = "block"  # refuse the request (PolicyBlocked, HTTP 400)
    ALERT = "alert"  # emit a value-free event; combine with another action


TRANSFORMS = (Action.REDACT, Action.HASH, Action.MASK, Action.REMOVE)
# when one entity type lists several transforms, the strongest applies
STRENGTH = {Action.ALLOW: 0, Action.MASK: 1, Action.HASH: 2, Action.REDACT: 3, Action.REMOVE: 4, Action.BLOCK: 5}


def format_counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{etype} x{n}" for etype, n in sorted(counts.items()))


class PolicyBlocked(InvalidRequest):
    """A policy's ``block`` action fired. The message names entity types and
    counts, never the values found."""

    code = "pii_blocked"

    def __init__(self, policy: str, counts: Mapping[str, int], *, direction: str = "input") -> None:
        self.policy = policy
        self.counts = dict(sorted(counts.items()))
        self.direction = direction
        where = "the request" if direction == "input" else "the response"
        super().__init__(
            f"{where} was blocked by policy {policy!r}: it contains {format_counts(self.counts)}",
            code="pii_blocked",
        )


class PolicyCheckFailed(MeshError):
    """An optional detector failed and the policy fails closed."""

    status = 503
    type = "server_error"
    code = "policy_check_unavailable"


@dataclass(frozen=True)
class AlertEvent:
    """A structured, value-free alert for admins (SNS on AWS)."""

    policy: str
    direction: str  # "input" | "output"
    counts: Mapping[str, int]  # entity type -> findings that carry the alert action
    actions: Mapping[str, str]  # entity type -> the transform applied (or "block")
    blocked: bool
    context: Mapping[str, Any] = field(default_factory=dict)  # app, route, principal, request id...
    at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "pii_alert",
            "policy": self.policy,
            "direction": self.direction,
            "counts": dict(self.counts),
            "actions": dict(self.actions),
            "blocked": self.blocked,
            "context": dict(self.context),
            "at": self.at,
        }


@runtime_checkable
class AlertSink(Protocol):
    def emit(self, event: AlertEvent) -> None: ...


class NullAlertSink:
    def emit(self, event: AlertEvent) -> None:
        return None


class InMemoryAlertSink:
    def __init__(self) -> None:
        self.events: list[AlertEvent] = []
        self._lock = threading.Lock()

    def emit(self, event: AlertEvent) -> None:
        with self._lock:
            self.events.append(event)


class LoggingAlertSink:
    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or logging.getLogger("llm_mesh.policy.alert")

    def emit(self, event: AlertEvent) -> None:
        self.logger.warning("pii alert", extra={"mesh_alert": event.to_dict()})


# --- value transforms ----------------------------------------------------------


def hash_value(entity_type: str, value: str, salt: bytes) -> str:
    digest = hmac.new(salt, entity_type.encode() + b"\x00" + value.encode("utf-8", "surrogatepass"), hashlib.sha256)
    return f"[{entity_type}#{digest.hexdigest()[:16]}]"


def _mask_keep_last(value: str, keep: int, *, only_alnum: bool = True) -> str:
    """Star every letter/digit except the last ``keep`` ones; separators stay."""
    positions = [i for i, c in enumerate(value) if c.isalnum()] if only_alnum else list(range(len(value)))
    hide = set(positions[: max(0, len(positions) - keep)])
    return "".join("*" if i in hide else c for i, c in enumerate(value))


def mask_value(entity_type: str, value: str) -> str:
    if entity_type == EMAIL and "@" in value:
        local, _, domain = value.rpartition("@")
        return (local[:1] + "***" if local else "***") + "@" + domain
    if entity_type == CREDIT_CARD:
        return _mask_keep_last(value, 4)
    if entity_type == IBAN:
        head, rest = value[:2], value[2:]
        return head + _mask_keep_last(rest, 4)
    if entity_type == PHONE:
        return _mask_keep_last(value, 2)
    if category_of(entity_type) == CATEGORY_SECRET:
        return "*" * min(len(value), 8)
    alnum = sum(1 for c in value if c.isalnum())
    return _mask_keep_last(value, 4 if alnum >= 10 else 0)
