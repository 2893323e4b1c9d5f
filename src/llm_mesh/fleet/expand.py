"""Routes to a deployed fleet: with ``fleet.deploy: true`` each fleet model implies, unless the
config already declares them, a ``sagemaker`` provider, a route and a registry entry of its name.

The provider calls inference component ``<prefix>-<model>`` on the endpoint of the pool the plan
put the model on (``<prefix>-<pool>``), the same names the CDK app deploys
(infra/components/fleet.py), so the gateway and the stack agree by construction. The plan is
pure and deterministic (the config's own traffic), so planning again here gives the pools the
stack was synthesized with. Like ``expand_self_hosted`` the input is not modified, and a section
that does not validate or plan is passed through for validation to report.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import ValidationError

from llm_mesh.fleet.config import FleetSection
from llm_mesh.fleet.deploy import component_name, endpoint_name
from llm_mesh.fleet.planner import PlanError, plan_fleet

PAYLOAD = {"vllm": "vllm_openai", "tgi": "tgi", "lmi": "lmi"}


def expand_fleet(config: Any) -> Any:
    section = config.get("fleet") if isinstance(config, dict) else None
    if not isinstance(section, dict) or not section.get("deploy"):
        return config
    try:
        fleet = FleetSection.model_validate(section)
        plan = plan_fleet(fleet)
    except (ValidationError, PlanError, ValueError):
        return config  # validation (or `mesh fleet plan`) reports it
    out = copy.deepcopy(config)
    for key in ("providers", "routes", "models"):
        out[key] = out.get(key) if out.get(key) is not None else {}
        if not isinstance(out[key], dict):
            return config
    for name, (pool, _) in plan.shapes.items():
        model = fleet.models[name]
        payload = PAYLOAD[model.container]
        options = {"endpoint_name": endpoint_name(fleet, pool), "inference_component": component_name(fleet, name),
                   "payload_format": payload, "context_window": model.max_context}
        out["providers"].setdefault(name, {"kind": "sagemaker", "options": options})
        out["routes"].setdefault(name, {"provider": name, "model": name})
        out["models"].setdefault(name, {
            "provider": name, "model": name, "hosting": "self_hosted",
            "description": f"{model.model_id} on the {pool} pool ({fleet.pools[pool].instance_type})",
            "capabilities": {"tools": payload == "vllm_openai", "json_schema": payload == "vllm_openai",
                             "context_window": model.max_context},
        })
    return out
