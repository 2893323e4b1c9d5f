"""Data residency: which targets may receive a request, given its data classifications.

A rule (``governance.residency``) says: requests carrying any of these
classifications (set by the policy hook, e.g. ``pii``) may only go to registered
models (``models:`` in mesh.yaml) whose ``hosting`` is allowed and, when the rule
lists regions, whose ``region`` is one of them. An unregistered model is never
allowed by a rule: residency fails closed. The result is a :class:`TargetFilter`
the route planner applies to the expanded candidate targets (``RequestFacts.allowed_target``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from llm_mesh.config.schema import MeshConfig
from llm_mesh.policy.governance import ResidencyRule, governance_of


@dataclass(frozen=True)
class TargetFilter:
    """A predicate over (provider, model) plus a human-readable reason for errors."""

    allowed: frozenset[tuple[str, str]] | None  # None: registry-wide predicate below
    rules: tuple[ResidencyRule, ...]
    reason: str

    def __call__(self, provider: str, model: str) -> bool:
        return self.allowed is not None and (provider, model) in self.allowed


class ResidencyPolicy:
    """Compiled residency rules; :meth:`filter_for` is a dict lookup after the first call."""

    def __init__(self, config: MeshConfig, rules: Iterable[ResidencyRule] | None = None) -> None:
        self.config = config
        self.rules = tuple(rules if rules is not None else governance_of(config).residency)
        self._cache: dict[tuple, TargetFilter | None] = {}

    def __bool__(self) -> bool:
        return bool(self.rules)

    def _applies(self, rule: ResidencyRule, classifications: frozenset[str], app: str, route: str) -> bool:
        if not classifications.intersection(rule.classifications):
            return False
        if rule.apps is not None and app not in rule.apps:
            return False
        if rule.routes is not None and route not in rule.routes:
            return False
        return True

    def _allowed_by(self, rule: ResidencyRule) -> set[tuple[str, str]]:
        out = set()
        for entry in self.config.models.values():
            if entry.hosting not in rule.hosting:
                continue
            if rule.regions is not None and entry.region not in rule.regions:
                continue
            out.add((entry.provider, entry.model))
        return out

    def filter_for(self, classifications: Iterable[str], app: str, route: str) -> TargetFilter | None:
        """The filter for a request, or None when no rule applies."""
        classes = frozenset(classifications)
        if not classes or not self.rules:
            return None
        key = (classes, app, route)
        if key in self._cache:
            return self._cache[key]
        applying = tuple(r for r in self.rules if self._applies(r, classes, app, route))
        result: TargetFilter | None = None
        if applying:
            allowed: set[tuple[str, str]] | None = None
            for rule in applying:
                ok = self._allowed_by(rule)
                allowed = ok if allowed is None else allowed & ok
            parts = []
            for rule in applying:
                hit = sorted(classes.intersection(rule.classifications))
                where = f" in regions {', '.join(rule.regions)}" if rule.regions else ""
                parts.append(f"data classified {', '.join(hit)} may only go to {' or '.join(rule.hosting)} models{where}")
            result = TargetFilter(frozenset(allowed or ()), applying, "; ".join(parts))
        if len(self._cache) < 4096:
            self._cache[key] = result
        return result
