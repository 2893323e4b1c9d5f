"""Seeded random small fleets, for the heuristic-vs-optimum tests and bench/fleet.py."""

from __future__ import annotations

import random

from llm_mesh.fleet.config import FleetSection

POOL_TYPES = ("ml.g5.xlarge", "ml.g5.12xlarge", "ml.g6e.xlarge", "ml.g6e.12xlarge", "ml.p4d.24xlarge")
MODEL_SIZES_B = (1.2, 3.2, 3.2, 8.0, 8.0, 13.0, 34.0, 70.0)


def random_fleet(seed: int, models: tuple[int, int] = (2, 5)) -> FleetSection:
    rng = random.Random(seed)
    pools = {f"pool{i}": {"instance_type": t, "max_instances": 4}
             for i, t in enumerate(rng.sample(POOL_TYPES, rng.randint(1, 3)))}
    if not any(p["instance_type"] in ("ml.p4d.24xlarge", "ml.g6e.12xlarge") for p in pools.values()):
        pools["big"] = {"instance_type": "ml.p4d.24xlarge", "max_instances": 2}  # somewhere for a 70B
    chosen, traffic = {}, {}
    for index in range(rng.randint(*models)):
        size = rng.choice(MODEL_SIZES_B)
        name = f"m{index}-{size:g}b"
        chosen[name] = {"parameters_b": size, "max_context": rng.choice((2048, 4096, 8192)),
                        "min_copies": rng.choice((1, 1, 2)),
                        "latency": {"ttft_p95_ms": 3000, "per_token_p95_ms": rng.choice((60, 100, 150))}}
        traffic[name] = {"requests_per_s": round(rng.uniform(0.0, 1.5 if size < 30 else 0.4), 3),
                         "prompt_tokens": rng.choice((256, 512, 1024)), "completion_tokens": rng.choice((128, 256))}
    return FleetSection.model_validate({"pools": pools, "models": chosen, "traffic": traffic})
