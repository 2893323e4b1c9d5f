"""One policy's toxicity check on answer text: classify, compare with the threshold, act.

``ToxicityScreen.check(text)`` blocks (:class:`ToxicOutputBlocked`, 400) or alerts (a
value-free :class:`AlertEvent`) when a category fires; a classifier failure skips the check
(fail open, noted in the decisions) or refuses the answer (fail closed, 503). Streamed
answers go through :class:`SentenceScreen`, which holds text back to a sentence boundary
like the output guardrail does and checks each complete sentence before it is released.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from llm_mesh.policy.actions import AlertEvent, AlertSink, PolicyCheckFailed
from llm_mesh.policy.guard import GuardResult, SentenceGuard
from llm_mesh.policy.output_filter import OutputBlocked
from llm_mesh.policy.toxicity import ToxicityClassifier, ToxicityConfig

logger = logging.getLogger("llm_mesh.policy.toxicity")


class ToxicOutputBlocked(OutputBlocked):
    """The answer scored over the policy's toxicity threshold."""

    code = "toxic_output"


@dataclass
class ToxicityRecord:
    """What the checks of one request found: categories that fired (with their top score), failures."""

    fired: dict[str, float] = field(default_factory=dict)
    checked: int = 0
    errors: int = 0
    blocked: bool = False

    def to_dict(self, policy: str, action: str) -> dict[str, Any]:
        out: dict[str, Any] = {"policy": policy, "action": action, "checked": self.checked, "blocked": self.blocked}
        if self.fired:
            out["categories"] = {c: round(s, 3) for c, s in sorted(self.fired.items())}
        if self.errors:
            out["errors"] = self.errors
        return out


class ToxicityScreen:
    def __init__(self, policy: str, config: ToxicityConfig, classifier: ToxicityClassifier, *,
                 fail_mode: str, alert_sink: AlertSink, context: Mapping[str, Any]) -> None:
        self.policy = policy
        self.config = config
        self.classifier = classifier
        self.fail_mode = config.fail_mode or fail_mode
        self.alert_sink = alert_sink
        self.context = dict(context)
        self.record = ToxicityRecord()

    @property
    def remote(self) -> bool:
        return bool(getattr(self.classifier, "remote", False))

    def check(self, text: str) -> None:
        if not text.strip():
            return
        self.record.checked += 1
        try:
            scores = self.classifier.classify(text)
        except Exception as exc:  # noqa: BLE001  (any classifier failure: the policy's fail mode decides)
            self.record.errors += 1
            logger.warning("toxicity classifier %s failed: %s", self.classifier.name, type(exc).__name__)
            if self.fail_mode == "closed":
                self.record.blocked = True
                raise PolicyCheckFailed(
                    f"the response could not be screened for toxicity (policy {self.policy!r} fails closed)"
                ) from None
            return
        fired = scores.fired(self.config.threshold, self.config.categories)
        if not fired:
            return
        for category, score in fired.items():
            self.record.fired[category] = max(self.record.fired.get(category, 0.0), score)
        blocked = self.config.action == "block"
        self.alert_sink.emit(AlertEvent(
            policy=self.policy, direction="output", counts={c: 1 for c in fired},
            actions={c: self.config.action for c in fired}, blocked=blocked, context=self.context,
        ))
        if blocked:
            self.record.blocked = True
            names = ", ".join(sorted(fired))
            raise ToxicOutputBlocked(f"the response was stopped by policy {self.policy!r}: it scored as toxic ({names})")


class SentenceScreen(SentenceGuard):
    """The output guardrail's sentence buffering, with a toxicity check on each released piece."""

    def __init__(self, screen: ToxicityScreen) -> None:
        super().__init__(None, max_sentence_chars=screen.config.max_sentence_chars)
        self.screen = screen

    def _check(self, chunk: str) -> GuardResult:
        self.screen.check(chunk)
        return GuardResult(chunk)
