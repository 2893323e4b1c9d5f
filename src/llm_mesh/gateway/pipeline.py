"""The staged request pipeline: which hooks run, in which order, checked once.

Hooks are given by the composition root (``llm_mesh.runtime``) as instances.
Each declares ``stage`` (where its ``before_*`` step runs) and ``completes``
(where its ``on_complete`` runs). The pipeline orders them by stage, keeps the
given order within a stage, and refuses at build time a hook that declares no
stage or one the service owns, so a capability cannot silently run in the
wrong place (the reason retrieved text once went upstream unscreened).

Request order: resolve -> [authorise] -> enrich -> screen -> admit -> [call];
the answer passes the same hooks outward (transform output); completion runs
settle before observe, so the audit record and experiment outcomes see the one
settled cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from llm_mesh.config.loader import ConfigError
from llm_mesh.gateway.hooks import RequestHook
from llm_mesh.gateway.stages import COMPLETION_STAGES, REQUEST_STAGES, Stage


def _check(hook: RequestHook) -> None:
    name = getattr(hook, "name", type(hook).__name__)
    stage = getattr(hook, "stage", None)
    if not isinstance(stage, Stage) or stage not in REQUEST_STAGES:
        allowed = ", ".join(s.name.lower() for s in sorted(REQUEST_STAGES))
        raise ConfigError(f"request hook {name!r} declares stage {stage!r}; a hook runs in one of: {allowed}")
    completes = getattr(hook, "completes", Stage.OBSERVE)
    if not isinstance(completes, Stage) or completes not in COMPLETION_STAGES:
        raise ConfigError(f"request hook {name!r} completes in {completes!r}; expected settle or observe")


@dataclass(frozen=True)
class Pipeline:
    """Hooks in request order, split where the service authorises."""

    resolvers: tuple[RequestHook, ...]  # before authorisation: may change the route
    governed: tuple[RequestHook, ...]  # after authorisation: enrich, screen, admit
    completion_order: tuple[RequestHook, ...]  # settle first, then observe

    @classmethod
    def of(cls, hooks: Sequence[RequestHook]) -> "Pipeline":
        for hook in hooks:
            _check(hook)
        ordered = sorted(hooks, key=lambda h: h.stage)  # stable: the given order within a stage
        completion = sorted(ordered, key=lambda h: getattr(h, "completes", Stage.OBSERVE))
        return cls(
            resolvers=tuple(h for h in ordered if h.stage == Stage.RESOLVE),
            governed=tuple(h for h in ordered if h.stage != Stage.RESOLVE),
            completion_order=tuple(completion),
        )

    @property
    def hooks(self) -> tuple[RequestHook, ...]:
        return self.resolvers + self.governed

    def describe(self) -> list[tuple[str, str]]:
        """(hook, stage) in request order, for ``mesh validate`` and the docs."""
        return [(getattr(h, "name", type(h).__name__), h.stage.name.lower()) for h in self.hooks]
