"""The GPU instance catalogue: dated list prices and GPU figures shipped as data.

``catalogue.json`` beside this module is the default; ``fleet.catalogue: FILE`` in
mesh.yaml replaces it, and a pool may override any single figure. Prices change:
the file carries ``as_of`` so a plan can say how old its prices are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

DEFAULT_CATALOGUE = Path(__file__).with_name("catalogue.json")


@dataclass(frozen=True)
class InstanceSpec:
    instance_type: str
    gpu: str
    gpus: int
    gpu_memory_gib: float
    bandwidth_gb_s: float  # per GPU, HBM/GDDR peak
    fp16_tflops: float  # per GPU, dense tensor peak
    price_per_hour: float

    @property
    def price_per_gpu_hour(self) -> float:
        return self.price_per_hour / self.gpus


@dataclass(frozen=True)
class Catalogue:
    as_of: str
    instances: dict[str, InstanceSpec]


def parse_catalogue(raw: dict[str, Any]) -> Catalogue:
    gpus = raw.get("gpus", {})
    instances = {}
    for name, entry in raw.get("instances", {}).items():
        gpu = gpus.get(entry.get("gpu"))
        if gpu is None:
            raise ValueError(f"catalogue instance {name!r}: unknown gpu {entry.get('gpu')!r}")
        instances[name] = InstanceSpec(
            instance_type=name, gpu=entry["gpu"], gpus=int(entry["gpus"]),
            gpu_memory_gib=float(gpu["memory_gib"]), bandwidth_gb_s=float(gpu["bandwidth_gb_s"]),
            fp16_tflops=float(gpu["fp16_tflops"]), price_per_hour=float(entry["price_per_hour"]),
        )
    return Catalogue(as_of=str(raw.get("as_of", "unknown")), instances=instances)


@lru_cache(maxsize=8)
def load_catalogue(path: str | None = None) -> Catalogue:
    """The shipped catalogue, or a replacement file (JSON, or YAML if the name ends .yaml/.yml)."""
    file = Path(path) if path else DEFAULT_CATALOGUE
    text = file.read_text(encoding="utf-8")
    if file.suffix in (".yaml", ".yml"):
        import yaml

        raw = yaml.safe_load(text)
    else:
        raw = json.loads(text)
    return parse_catalogue(raw)
