"""Redaction as a service (``POST /v1/mesh/redact``, ``mesh policy test``): what the
policies find and do to texts, outside the request path."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from llm_mesh.policy.decisions import PolicyDecisions
from llm_mesh.policy.engine import PolicyEngine
from llm_mesh.policy.findings import BUILTIN_TYPES, CATEGORY_SECRET, DENY_TERM, category_of
from llm_mesh.policy.governance import governance_of
from llm_mesh.policy.redactor import RedactionVault


def classification_of(entity_type: str) -> str:
    if category_of(entity_type) == CATEGORY_SECRET:
        return "secret"
    if entity_type == DENY_TERM or entity_type not in BUILTIN_TYPES:
        return "confidential"  # deny lists, custom patterns (employee ids, project names...)
    return "pii"


def policies_for_caller(config: Any, app: str, admin: bool = False) -> set[str]:
    """Named policies an app may apply through ``POST /v1/mesh/redact``: the default, its
    own binding, those of the routes it may use, its ``redact_api`` list; admins: any."""
    if admin:
        return set(config.policies)
    gov = governance_of(config)
    b = gov.bindings
    names = {n for n in (b.default, b.apps.get(app)) if n}
    app_cfg = config.apps.get(app)
    if app_cfg is not None:
        names.update(name for route, name in b.routes.items() if app_cfg.may_use(route))
    names.update(b.redact_api.get(app, ()))
    return names


def run_policies(engines: Sequence[PolicyEngine], texts: Sequence[str], *, context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What the policies do to ``texts``: findings (type, span, action; never values), the
    transformed texts (one vault: typed placeholders) and value-free decisions. Raises
    :class:`PolicyBlocked` when a block action fires."""
    vault = RedactionVault()
    findings: list[list[dict[str, Any]]] = []
    for text in texts:
        per: dict[tuple[int, int, str], dict[str, Any]] = {}
        for engine in engines:
            for f in engine.scan(text):
                rule = engine.rule_for(f.entity_type)
                per.setdefault((f.start, f.end, f.entity_type), {
                    "type": f.entity_type, "start": f.start, "end": f.end, "score": round(f.score, 3),
                    "action": rule.action.value, "policy": engine.name,
                })
        findings.append([per[k] for k in sorted(per)])
    out = list(texts)
    total = PolicyDecisions("+".join(e.name for e in engines))
    for engine in engines:
        out, dec = engine.apply_to_texts(out, vault, context=context)
        total.merge(dec)
    classes = sorted({classification_of(t) for per in total.counts.values() for t in per})
    return {"texts": out, "findings": findings, "decisions": total.to_dict(), "classifications": classes}
