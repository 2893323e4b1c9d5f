"""A plan as the input the SageMaker deploy needs: one endpoint per used pool, one inference
component per model with its copy count and compute resource requirements.

Field names follow AWS::SageMaker::InferenceComponent (ComputeResourceRequirements,
RuntimeConfig.CopyCount). Not yet consumed by the CDK app: infra/components/self_hosted.py
deploys one endpoint with at most one inference component per ``self_hosted:`` entry; an
endpoint hosting several components (what a packed plan needs) is the missing piece there.
SageMaker places the copies itself; the plan's GPU-level placement is the planner's evidence
that they fit, not an instruction SageMaker takes.

Caveat: an inference component asks for at least one whole accelerator, so models the plan
packs onto one GPU cannot share it as separate components; they are listed under
``shared_gpus`` (serve them from one multi-model container, or on EC2/EKS with MIG or MPS).
``min_memory_required_in_mb`` is host memory: the weights size, since the container stages
the weights through host RAM.
"""

from __future__ import annotations

import math

from llm_mesh.fleet.config import FleetSection
from llm_mesh.fleet.planner import Plan
from llm_mesh.fleet.throughput import weights_bytes

MB = 2**20


def deploy_document(plan: Plan, fleet: FleetSection) -> dict:
    endpoints: dict[str, dict] = {}
    for pool, count in plan.instances.items():
        if count:
            endpoints[pool] = {"instance_type": fleet.pools[pool].instance_type, "initial_instance_count": count,
                               "min_instance_count": 0 if _all_scale_to_zero(plan, fleet, pool) else count,
                               "max_instance_count": fleet.pools[pool].max_instances, "inference_components": {}}
    for name, (pool, shape) in plan.shapes.items():
        model = fleet.models[name]
        if pool not in endpoints and shape.copies == 0:
            continue
        component = {
            "container": model.container,
            "compute_resource_requirements": {
                "number_of_accelerator_devices_required": shape.tp,
                "min_memory_required_in_mb": max(1024, math.ceil(weights_bytes(model) / MB)),
            },
            "runtime_config": {"copy_count": shape.copies},
            "autoscaling": {"min_copies": 0 if model.scale_to_zero else max(1, model.min_copies),
                            "max_copies": max(shape.copies, 1) * 2},
        }
        endpoints.setdefault(pool, {"instance_type": fleet.pools[pool].instance_type, "initial_instance_count": 0,
                                    "min_instance_count": 0, "max_instance_count": fleet.pools[pool].max_instances,
                                    "inference_components": {}})["inference_components"][name] = component
    return {"endpoints": endpoints, "shared_gpus": _shared_gpus(plan)}


def _shared_gpus(plan: Plan) -> list[list[str]]:
    tenants: dict[tuple, set[str]] = {}
    for placement in plan.placements:
        for gpu in placement.gpus:
            tenants.setdefault((placement.pool, placement.instance, gpu), set()).add(placement.model)
    return sorted({tuple(sorted(models)) for models in tenants.values() if len(models) > 1})  # type: ignore[arg-type]


def _all_scale_to_zero(plan: Plan, fleet: FleetSection, pool: str) -> bool:
    hosted = [m for m, (p, _) in plan.shapes.items() if p == pool]
    return bool(hosted) and all(fleet.models[m].scale_to_zero for m in hosted)
