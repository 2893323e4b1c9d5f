"""The policy engine: scan text, decide per entity type, rewrite, block, alert."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from llm_mesh.policy.actions import (
    STRENGTH,
    TRANSFORMS,
    Action,
    AlertEvent,
    AlertSink,
    NullAlertSink,
    PolicyBlocked,
    PolicyCheckFailed,
)
from llm_mesh.policy.detectors import (
    CardDetector,
    CredentialDetector,
    CustomPattern,
    CustomPatternDetector,
    DenyListDetector,
    DenyListSource,
    Detector,
    EmailDetector,
    IbanDetector,
    IpDetector,
    NationalIdDetector,
    PhoneDetector,
    ScanContext,
    StaticDenyList,
)
from llm_mesh.policy.decisions import PolicyDecisions
from llm_mesh.policy.findings import Finding, category_of, group_overlaps, priority_of
from llm_mesh.policy.redactor import PlannedEdit, RedactionVault, rewrite
from llm_mesh.policy.scan_memo import ScanMemo

if TYPE_CHECKING:
    from llm_mesh.policy.config import PolicyConfig
    from llm_mesh.policy.guard import SentenceGuard


@dataclass(frozen=True, slots=True)
class EntityRule:
    action: Action  # allow | redact | hash | mask | remove | block
    alert: bool = False


def _drop_shadowed(findings: list[Finding]) -> list[Finding]:
    """Drop a finding lying inside another of higher priority (a phone-shaped
    run inside an IBAN, a generic secret that is the AWS secret): one value,
    one entity. Partial overlaps are kept and resolved when rewriting."""
    if len(findings) < 2:
        return findings
    out = []
    for i, f in enumerate(findings):
        pf = priority_of(f.entity_type)
        shadowed = False
        for j in range(i - 1, -1, -1):  # earlier starts (sorted by start)
            g = findings[j]
            if g.end >= f.end and priority_of(g.entity_type) > pf:
                shadowed = True
                break
            if f.start - g.start > 20000:
                break
        if not shadowed:
            for g in findings[i + 1 :]:
                if g.start > f.start:
                    break
                if g.end >= f.end and priority_of(g.entity_type) > pf:
                    shadowed = True
                    break
        if not shadowed:
            out.append(f)
    return out


class PolicyEngine:
    """One compiled policy. Thread-safe and reusable across requests; the
    per-request state lives in the :class:`RedactionVault` passed in."""

    def __init__(
        self,
        name: str,
        detectors: Sequence[Detector],
        *,
        actions: Mapping[str, EntityRule] | None = None,
        default: EntityRule = EntityRule(Action.REDACT),
        salt: bytes | None = None,
        alert_sink: AlertSink | None = None,
        fail_mode: str = "closed",
        min_score: float = 0.0,
        restore_output: bool = True,
        forbidden_terms: Iterable[str] = (),
        check_output_pii: bool = True,
        max_sentence_chars: int = 2000,
    ) -> None:
        self.name = name
        self.detectors = tuple(detectors)
        self._memo: ScanMemo[tuple[Finding, ...]] = ScanMemo()
        self._versioned = tuple(d for d in self.detectors if hasattr(d, "state_version"))
        self._actions = dict(actions or {})
        self._default = default
        self._rule_cache: dict[str, EntityRule] = {}
        self.salt = salt
        self.alert_sink: AlertSink = alert_sink or NullAlertSink()
        if fail_mode not in ("open", "closed"):
            raise ValueError("fail_mode must be 'open' or 'closed'")
        self.fail_mode = fail_mode
        self.min_score = min_score
        self.restore_output = restore_output
        self.forbidden_terms = tuple(forbidden_terms)
        self.check_output_pii = check_output_pii
        self.max_sentence_chars = max_sentence_chars
        if salt is None and any(r.action is Action.HASH for r in [default, *self._actions.values()]):
            raise ValueError("the hash action needs a salt")

    # --- construction ---------------------------------------------------------

    @classmethod
    def from_config(
        cls,
        cfg: "PolicyConfig",
        *,
        name: str = "default",
        alert_sink: AlertSink | None = None,
        secret_resolver: Any = None,
        deny_sources: Mapping[str, DenyListSource] | None = None,
        extra_detectors: Sequence[Detector] = (),
    ) -> "PolicyEngine":
        """Build an engine from a validated :class:`PolicyConfig`.

        ``secret_resolver`` resolves ``hash_salt`` (default: environment
        variables); ``deny_sources`` maps an entity type to a table-backed
        :class:`DenyListSource` (added to the static terms of the config);
        ``extra_detectors`` are optional ones (Presidio, Comprehend, ...).
        """
        enabled = set(cfg.detectors) if cfg.detectors is not None else None

        def on(family: str) -> bool:
            return enabled is None or family in enabled

        detectors: list[Detector] = []
        if on("credentials"):
            detectors.append(CredentialDetector())
        if on("email"):
            detectors.append(EmailDetector())
        if on("card"):
            detectors.append(CardDetector())
        if on("iban"):
            detectors.append(IbanDetector())
        if on("national_id") and cfg.national_ids:
            detectors.append(NationalIdDetector(cfg.national_ids))
        if on("phone") and cfg.phone_regions:
            detectors.append(PhoneDetector(cfg.phone_regions, mode=cfg.phone_mode))
        if on("ip"):
            detectors.append(IpDetector(include_private=cfg.include_private_ips))
        if on("custom") and cfg.custom_patterns:
            detectors.append(
                CustomPatternDetector(
                    [
                        CustomPattern(
                            p.entity_type,
                            re.compile(p.pattern, re.IGNORECASE if p.ignore_case else 0),
                            p.group,
                            p.score,
                        )
                        for p in cfg.custom_patterns
                    ]
                )
            )
        if on("deny_list"):
            static: dict[str, list[str]] = {}
            for d in cfg.deny_lists:
                static.setdefault(d.entity_type, []).extend(d.terms)
            for etype, terms in static.items():
                if terms:
                    detectors.append(DenyListDetector(StaticDenyList(terms), etype))
            for etype, source in (deny_sources or {}).items():
                detectors.append(DenyListDetector(source, etype))
        detectors.extend(extra_detectors)

        actions: dict[str, EntityRule] = {}
        for key, spec in cfg.actions.items():
            acts = spec if isinstance(spec, list) else [spec]
            alert = Action.ALERT in acts
            rest = [a for a in acts if a is not Action.ALERT]
            actions[key] = EntityRule(rest[0] if rest else Action.ALLOW, alert)

        salt = None
        if cfg.hash_salt is not None:
            if secret_resolver is None:
                from llm_mesh.secrets import EnvSecretResolver

                secret_resolver = EnvSecretResolver()
            salt = secret_resolver.resolve(cfg.hash_salt).encode()

        return cls(
            name,
            detectors,
            actions=actions,
            default=EntityRule(cfg.default_action),
            salt=salt,
            alert_sink=alert_sink,
            fail_mode=cfg.fail_mode,
            min_score=cfg.min_score,
            restore_output=cfg.restore_output,
            forbidden_terms=cfg.output.forbidden_terms,
            check_output_pii=cfg.output.check_pii,
            max_sentence_chars=cfg.output.max_sentence_chars,
        )

    # --- scanning -------------------------------------------------------------

    def rule_for(self, entity_type: str) -> EntityRule:
        rule = self._rule_cache.get(entity_type)
        if rule is None:
            rule = self._actions.get(entity_type)
            if rule is None:
                cat = category_of(entity_type)
                rule = self._actions.get(cat, self._default) if cat else self._default
            self._rule_cache[entity_type] = rule
        return rule

    def _scan(self, text: str, errors: list[str] | None) -> list[Finding]:
        if not text:
            return []
        ctx = ScanContext(text)
        found: dict[tuple[int, int, str], Finding] = {}
        n = len(text)
        for det in self.detectors:
            try:
                results = ctx.to_original(det.detect(ctx))
            except Exception as exc:  # noqa: BLE001
                if getattr(det, "optional", False) and self.fail_mode == "open":
                    if errors is not None:
                        errors.append(det.name)
                    continue
                raise PolicyCheckFailed(
                    f"policy {self.name!r}: the {det.name} detector failed ({type(exc).__name__})"
                ) from None
            for f in results:
                if f.score < self.min_score or f.end > n:
                    continue
                key = (f.start, f.end, f.entity_type)
                old = found.get(key)
                if old is None or f.score > old.score:
                    found[key] = f
        return _drop_shadowed(sorted(found.values()))

    def _remembered_scan(self, text: str, errors: list[str], context: Mapping[str, Any] | None) -> list[Finding]:
        """``_scan``, reusing the findings for a text this app sent before (scan_memo.py says
        why); a scan a detector failed in is not remembered."""
        scope = (context.get("app", "") if context else "", tuple(d.state_version() for d in self._versioned))
        found = self._memo.get(scope, text)
        if found is not None:
            return list(found)
        findings = self._scan(text, errors)
        if not errors:
            self._memo.put(scope, text, tuple(findings))
        return findings

    def scan(self, text: str) -> list[Finding]:
        """All findings, sorted by position (overlaps kept)."""
        return self._scan(text, None)

    # --- applying -------------------------------------------------------------

    def new_vault(self) -> RedactionVault:
        return RedactionVault()

    def apply_to_text(
        self,
        text: str,
        vault: RedactionVault | None = None,
        *,
        direction: str = "input",
        context: Mapping[str, Any] | None = None,
    ) -> tuple[str, PolicyDecisions]:
        """Scan and rewrite ``text``. Raises :class:`PolicyBlocked` if a block
        action fires (after emitting alerts). ``vault`` collects placeholders
        for restoring the answer; without one (or for ``direction="output"``)
        redaction is one-way (``[EMAIL_REDACTED]``)."""
        errors: list[str] = []
        findings = self._remembered_scan(text, errors, context)
        decisions = PolicyDecisions(self.name, detector_errors=errors)
        if not findings:
            if vault is not None and "[" in text:
                text = rewrite(text, [], vault, self.salt)
            return text, decisions
        block_counts: dict[str, int] = {}
        applied: dict[str, str] = {}
        transform: list[tuple[Finding, Action]] = []
        for f in findings:
            rule = self.rule_for(f.entity_type)
            per = decisions.counts.setdefault(rule.action.value, {})
            per[f.entity_type] = per.get(f.entity_type, 0) + 1
            if rule.alert:
                decisions.alerts[f.entity_type] = decisions.alerts.get(f.entity_type, 0) + 1
                applied[f.entity_type] = rule.action.value
            if rule.action is Action.BLOCK:
                block_counts[f.entity_type] = block_counts.get(f.entity_type, 0) + 1
            elif rule.action in TRANSFORMS:
                transform.append((f, rule.action))
        decisions.blocked = bool(block_counts)
        if decisions.alerts:
            self.alert_sink.emit(
                AlertEvent(
                    policy=self.name,
                    direction=direction,
                    counts=dict(sorted(decisions.alerts.items())),
                    actions=dict(sorted(applied.items())),
                    blocked=decisions.blocked,
                    context=dict(context or {}),
                )
            )
        if block_counts:
            err = PolicyBlocked(self.name, block_counts, direction=direction)
            err.decisions = decisions  # type: ignore[attr-defined]
            raise err
        if not transform:
            if vault is not None and "[" in text:
                text = rewrite(text, [], vault, self.salt)
            return text, decisions
        action_of = {id(f): a for f, a in transform}
        edits: list[PlannedEdit] = []
        for members in group_overlaps([f for f, _ in transform]):
            start, end = members[0].start, max(m.end for m in members)
            # the strictest action wins; then the longest, highest-priority finding
            best = max(
                members,
                key=lambda f: (
                    STRENGTH[action_of[id(f)]],
                    f.end - f.start,
                    priority_of(f.entity_type),
                    f.score,
                    -f.start,
                ),
            )
            edits.append(PlannedEdit(start, end, best.entity_type, action_of[id(best)]))
        one_way = vault is None or direction == "output"
        new_text = rewrite(text, edits, None if one_way else vault, self.salt)
        return new_text, decisions

    def apply_to_texts(
        self,
        texts: Sequence[str],
        vault: RedactionVault | None = None,
        *,
        direction: str = "input",
        context: Mapping[str, Any] | None = None,
    ) -> tuple[list[str], PolicyDecisions]:
        """Apply to every message of one request with one vault. Placeholder-looking
        literals of all messages are reserved first, so no message can name a
        placeholder another message's value will get."""
        if vault is not None:
            for t in texts:
                vault.reserve(t)
        total = PolicyDecisions(self.name)
        out = []
        for t in texts:
            new, dec = self.apply_to_text(t, vault, direction=direction, context=context)
            out.append(new)
            total.merge(dec)
        return out, total

    # --- output ---------------------------------------------------------------

    def sentence_guard(self, *, context: Mapping[str, Any] | None = None) -> "SentenceGuard":
        from llm_mesh.policy.guard import SentenceGuard

        return SentenceGuard(
            self if self.check_output_pii else None,
            forbidden_terms=self.forbidden_terms,
            max_sentence_chars=self.max_sentence_chars,
            context=context,
        )

    def check_output(self, text: str, *, context: Mapping[str, Any] | None = None):
        """Non-streamed answer check: returns a GuardResult (text to release, or a violation)."""
        guard = self.sentence_guard(context=context)
        first = guard.feed(text)
        if first.violation is not None:
            return first
        rest = guard.flush()
        if rest.violation is not None:
            return rest
        from llm_mesh.policy.guard import GuardResult

        return GuardResult(first.text + rest.text, None, guard.decisions)
