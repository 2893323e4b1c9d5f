"""Which request hooks a runtime runs, in which order.

Order is the onion's layering, outermost first: prompts are rendered before
retrieval adds context, policy redacts everything that will leave the mesh
(including retrieved text), the cache is keyed on the redacted request, and
budgets/limits are charged only for calls that reach a provider. Each
capability contributes one factory; a factory returns None when its section of
the config is absent, so an unused capability costs nothing on the hot path.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from llm_mesh.config.schema import MeshConfig
from llm_mesh.gateway.hooks import RequestHook


@dataclass(frozen=True)
class HookContext:
    config: MeshConfig
    stores: Any  # StoreBundle
    secrets: Any  # SecretResolver
    home: str
    extras: dict[str, Any]  # optional collaborators (metrics sink, alert sink, embedder...)


# "module:factory" — factory(HookContext) -> RequestHook | None. Outermost first.
HOOK_FACTORIES: tuple[str, ...] = (
    "llm_mesh.prompts.hook:build_prompt_hook",
    "llm_mesh.kb.rag:build_rag_hook",
    "llm_mesh.policy.hook:policy_hook",
    "llm_mesh.cost.hook:build_cost_hook",
    "llm_mesh.audit.hook:audit_hook",
)


def build_hooks(context: HookContext) -> list[RequestHook]:
    hooks = []
    for path in HOOK_FACTORIES:
        module_name, _, attribute = path.partition(":")
        factory = getattr(importlib.import_module(module_name), attribute)
        hook = factory(context)
        if hook is not None:
            hooks.append(hook)
    return hooks
