"""PII, secret and deny-list detection and redaction (pure core, no I/O).

Typical use per request::

    engine = PolicyEngine.from_config(policy_cfg, name="default", alert_sink=sink)
    vault = engine.new_vault()
    texts, decisions = engine.apply_to_texts(message_texts, vault, context={"app": app})
    # ... call the model with `texts` ...
    guard = engine.sentence_guard()            # output guardrail
    restorer = vault.stream_restorer()         # when engine.restore_output
    for delta in stream:
        r = guard.feed(delta)
        if r.violation: end stream with an error event (r.violation.message)
        emit(restorer.feed(r.text))
    r = guard.flush(); emit(restorer.feed(r.text) + restorer.flush())
"""

from llm_mesh.policy.actions import (
    Action,
    AlertEvent,
    AlertSink,
    InMemoryAlertSink,
    LoggingAlertSink,
    NullAlertSink,
    PolicyBlocked,
    PolicyCheckFailed,
)
from llm_mesh.policy.config import PolicyConfig, parse_policies
from llm_mesh.policy.detectors import DenyListSource, Detector, ScanContext, StaticDenyList
from llm_mesh.policy.engine import EntityRule, PolicyDecisions, PolicyEngine
from llm_mesh.policy.findings import Finding
from llm_mesh.policy.guard import GuardResult, GuardViolation, SentenceGuard
from llm_mesh.policy.redactor import RedactionVault, StreamRestorer

__all__ = [
    "Action",
    "AlertEvent",
    "AlertSink",
    "DenyListSource",
    "Detector",
    "EntityRule",
    "Finding",
    "GuardResult",
    "GuardViolation",
    "InMemoryAlertSink",
    "LoggingAlertSink",
    "NullAlertSink",
    "PolicyBlocked",
    "PolicyCheckFailed",
    "PolicyConfig",
    "PolicyDecisions",
    "PolicyEngine",
    "RedactionVault",
    "ScanContext",
    "SentenceGuard",
    "StaticDenyList",
    "StreamRestorer",
    "parse_policies",
]
