"""A/B experiments between prompt versions: sticky assignment, report, promotion."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from llm_mesh.errors import InvalidRequest, NotFound
from llm_mesh.prompts.catalogue import PromptCatalogue
from llm_mesh.prompts.config import ExperimentConfig
from llm_mesh.prompts.stats import mean_var, two_proportions, welch
from llm_mesh.prompts.store import Outcome

SIGNIFICANCE = 0.05


def assign(experiment: str, user: str, experiment_config: ExperimentConfig) -> str:
    """The variant a user sees: a hash of (experiment, user) on the weights — the same user, the same variant."""
    digest = hashlib.sha256(f"{experiment}\x00{user}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64
    total = sum(v.weight for v in experiment_config.variants.values())
    running = 0.0
    names = sorted(experiment_config.variants)
    for name in names:
        running += experiment_config.variants[name].weight / total
        if point < running:
            return name
    return names[-1]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(q * (len(ordered) - 1)))))
    return ordered[index]


def _figures(outcomes: list[Outcome]) -> dict[str, Any]:
    ok = [o for o in outcomes if o.status < 400]
    latencies = [o.latency_ms for o in ok]
    costs = [o.cost_usd for o in ok]
    scores = [o.feedback for o in outcomes if o.feedback is not None]
    return {
        "requests": len(outcomes),
        "errors": len(outcomes) - len(ok),
        "success_rate": round(len(ok) / len(outcomes), 4) if outcomes else None,
        "latency_ms": {"mean": round(mean_var(latencies)[0], 3), "p50": round(_percentile(latencies, 0.5), 3),
                       "p95": round(_percentile(latencies, 0.95), 3)} if latencies else None,
        "cost_usd": {"mean": mean_var(costs)[0], "total": sum(costs)} if costs else None,
        "feedback": {"count": len(scores), "mean": round(mean_var(scores)[0], 4),
                     "positive_rate": round(sum(1 for s in scores if s > 0) / len(scores), 4)} if scores else None,
    }


class Experiments:
    def __init__(self, configs: dict[str, ExperimentConfig], catalogue: PromptCatalogue) -> None:
        self.configs = dict(configs)
        self.catalogue = catalogue
        self.store = catalogue.store
        self._by_prompt: dict[tuple[str, str], str] = {(c.prompt, c.label): n for n, c in self.configs.items() if c.enabled}
        self._concluded: dict[str, tuple[float, bool]] = {}

    def config(self, name: str) -> ExperimentConfig:
        if name not in self.configs:
            raise NotFound(f"no experiment named {name!r}", code="experiment_not_found")
        return self.configs[name]

    def concluded(self, name: str) -> bool:
        cached = self._concluded.get(name)
        now = time.monotonic()
        if cached is None or now - cached[0] > 1.0:
            state = self.store.get_state(name) or {}
            cached = (now, bool(state.get("concluded")))
            self._concluded[name] = cached
        return cached[1]

    def running_for(self, prompt: str, label: str | None) -> str | None:
        if label is None:
            return None
        name = self._by_prompt.get((prompt, label))
        if name is None or self.concluded(name):
            return None
        return name

    def report(self, name: str) -> dict[str, Any]:
        config = self.config(name)
        outcomes = self.store.outcomes(name)
        groups = {variant: [o for o in outcomes if o.variant == variant] for variant in sorted(config.variants)}
        variants = [{"variant": v, "version": config.variants[v].version, **_figures(groups[v])} for v in groups]
        names = list(groups)
        control, tests = names[0], {}
        for other in names[1:]:
            a, b = groups[control], groups[other]
            fa = [o.feedback for o in a if o.feedback is not None]
            fb = [o.feedback for o in b if o.feedback is not None]
            tests[f"{other}_vs_{control}"] = {
                "feedback_welch": welch(fa, fb),
                "latency_welch": welch([o.latency_ms for o in a if o.status < 400], [o.latency_ms for o in b if o.status < 400]),
                "cost_welch": welch([o.cost_usd for o in a if o.status < 400], [o.cost_usd for o in b if o.status < 400]),
                "positive_feedback_z": two_proportions(sum(1 for s in fa if s > 0), len(fa), sum(1 for s in fb if s > 0), len(fb)),
                "success_z": two_proportions(sum(1 for o in a if o.status < 400), len(a), sum(1 for o in b if o.status < 400), len(b)),
            }
        state = self.store.get_state(name) or {}
        return {"experiment": name, "prompt": config.prompt, "label": config.label, "metric": config.metric,
                "concluded": bool(state.get("concluded")), "promoted": state.get("promoted"),
                "variants": variants, "tests": tests, "winner": self._winner(config, groups, tests, control),
                "significance_level": SIGNIFICANCE}

    def _winner(self, config: ExperimentConfig, groups: dict[str, list[Outcome]], tests: dict[str, Any], control: str) -> str | None:
        """The variant significantly better than the control on the experiment's metric, if any."""
        key = {"feedback": "feedback_welch", "latency": "latency_welch", "cost": "cost_welch"}[config.metric]
        higher_is_better = config.metric == "feedback"
        best, best_diff = None, 0.0
        for label, test in tests.items():
            result = test[key]
            if result is None or result["p"] >= SIGNIFICANCE:
                continue
            gain = result["diff"] if higher_is_better else -result["diff"]
            if gain > best_diff:
                best, best_diff = label.split("_vs_")[0], gain
        if best is None:
            # The control wins when every other variant is significantly worse.
            worse = [t[key] for t in tests.values()]
            if worse and all(r is not None and r["p"] < SIGNIFICANCE and ((r["diff"] < 0) == higher_is_better) for r in worse):
                return control
        return best

    def promote(self, name: str, variant: str | None = None, actor: str = "") -> dict[str, Any]:
        """Move the experiment's label to the variant's version (the winner by default) and end the split."""
        config = self.config(name)
        if variant is None:
            variant = self.report(name)["winner"]
            if variant is None:
                raise InvalidRequest(f"experiment {name!r} has no significant winner yet; name the variant to promote", param="variant")
        if variant not in config.variants:
            raise InvalidRequest(f"experiment {name!r} has no variant {variant!r}", param="variant")
        version = config.variants[variant].version
        self.catalogue.move_label(config.prompt, config.label, version, actor)
        self.store.set_state(name, {"concluded": True, "promoted": variant, "version": version, "at": time.time()})
        self._concluded.pop(name, None)
        return {"experiment": name, "promoted": variant, "prompt": config.prompt, "label": config.label, "version": version}
