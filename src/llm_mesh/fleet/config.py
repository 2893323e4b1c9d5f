"""The ``fleet:`` section of mesh.yaml: GPU pools, self-hosted models and their goals.

The planner (llm_mesh.fleet.planner) reads it with a traffic profile and decides
which model copies go on which GPUs. With ``deploy: true`` (and an ``image`` and
``model_id`` per model) the CDK app deploys the plan: one SageMaker endpoint per used
pool named ``<endpoint_prefix>-<pool>``, one inference component per model named
``<endpoint_prefix>-<model>`` (infra/components/fleet.py).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Dtype = Literal["fp32", "fp16", "bf16", "fp8", "int8", "int4", "awq", "gptq"]
Container = Literal["tgi", "vllm", "lmi"]
SAGEMAKER_NAME = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"  # endpoint and inference component names


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FleetPool(_Strict):
    instance_type: str = Field(min_length=1, max_length=64, description="catalogue key, e.g. ml.g5.12xlarge")
    min_instances: int = Field(default=0, ge=0, le=1000)
    max_instances: int = Field(default=8, ge=1, le=1000)
    # Overrides of the catalogue figures (all optional; required for a type the catalogue lacks).
    gpus: int | None = Field(default=None, ge=1, le=64)
    gpu_memory_gib: float | None = Field(default=None, gt=0, le=1024)
    bandwidth_gb_s: float | None = Field(default=None, gt=0, le=100_000)
    fp16_tflops: float | None = Field(default=None, gt=0, le=100_000)
    price_per_hour: float | None = Field(default=None, ge=0, le=10_000)

    @model_validator(mode="after")
    def _bounds(self) -> FleetPool:
        if self.min_instances > self.max_instances:
            raise ValueError(f"min_instances ({self.min_instances}) exceeds max_instances ({self.max_instances})")
        return self


class LatencyGoal(_Strict):
    ttft_p95_ms: float = Field(default=2000, gt=0, le=600_000, description="time to first token")
    per_token_p95_ms: float = Field(default=100, gt=0, le=10_000, description="inter-token latency while decoding")


class FleetModel(_Strict):
    parameters_b: float | None = Field(default=None, gt=0, le=2000, description="billions of parameters")
    weights_gb: float | None = Field(default=None, gt=0, le=4000, description="weights size; overrides parameters x dtype")
    dtype: Dtype = "bf16"
    max_context: int = Field(default=8192, ge=128, le=2_000_000)
    container: Container = "vllm"
    latency: LatencyGoal = LatencyGoal()
    min_copies: int = Field(default=1, ge=0, le=100)
    scale_to_zero: bool = False
    # What to deploy (needed with fleet.deploy: true): the container image and the weights.
    image: str | None = Field(default=None, min_length=1, max_length=300,
                              description="ECR image URI, or a Deep Learning Container alias: tgi:<tag>, vllm:<tag>, lmi:<tag>")
    model_id: str | None = Field(default=None, min_length=1, max_length=300,
                                 description="Hugging Face model id, or s3://bucket/prefix/ of uncompressed model files")
    environment: dict[str, str] = Field(default_factory=dict, description="container environment (non-secret)")
    # Architecture, when known; otherwise approximated from parameters_b (see throughput.py).
    layers: int | None = Field(default=None, ge=1, le=1000)
    kv_heads: int | None = Field(default=None, ge=1, le=1024)
    head_dim: int | None = Field(default=None, ge=16, le=1024)

    @model_validator(mode="after")
    def _size_known(self) -> FleetModel:
        if self.parameters_b is None and self.weights_gb is None:
            raise ValueError("give parameters_b (with dtype) or weights_gb")
        if self.scale_to_zero and self.min_copies > 0:
            raise ValueError("scale_to_zero needs min_copies: 0 (a model that may scale to zero keeps no floor)")
        return self


class TrafficEntry(_Strict):
    requests_per_s: float = Field(default=0.0, ge=0, le=1_000_000)
    prompt_tokens: float = Field(default=512, ge=0, le=2_000_000, description="mean per request")
    completion_tokens: float = Field(default=256, ge=0, le=2_000_000, description="mean per request")
    peak_concurrency: float | None = Field(default=None, ge=0, le=1_000_000)


class FleetSection(_Strict):
    catalogue: str | None = Field(default=None, description="replacement catalogue file (JSON or YAML)")
    deploy: bool = Field(default=False, description="the CDK app deploys the plan as SageMaker inference components")
    endpoint_prefix: str = Field(default="fleet", pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,19}$",
                                 description="endpoints are <prefix>-<pool>, inference components <prefix>-<model>")
    bandwidth_efficiency: float = Field(default=0.6, gt=0, le=1, description="achieved / peak memory bandwidth")
    compute_efficiency: float = Field(default=0.4, gt=0, le=1, description="achieved / peak FLOPs in prefill (MFU)")
    memory_headroom: float = Field(default=0.9, gt=0, le=1, description="usable share of GPU memory")
    max_gpu_utilisation: float = Field(default=0.8, gt=0, le=1, description="bandwidth share a GPU may be loaded to")
    pools: dict[str, FleetPool] = Field(default_factory=dict)
    models: dict[str, FleetModel] = Field(default_factory=dict)
    traffic: dict[str, TrafficEntry] = Field(default_factory=dict, description="default profile; `mesh fleet profile` writes one")

    @model_validator(mode="after")
    def _references(self) -> FleetSection:
        problems = [f"fleet.traffic.{name}: unknown fleet model" for name in self.traffic if name not in self.models]
        if self.models and not self.pools:
            problems.append("fleet.pools: at least one pool is needed to host fleet.models")
        problems.extend(self._unknown_instance_types())
        if self.deploy:
            problems.extend(self._deploy_problems())
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _unknown_instance_types(self) -> list[str]:
        from llm_mesh.fleet.catalogue import load_catalogue

        try:
            known = load_catalogue(self.catalogue).instances
        except (OSError, ValueError, KeyError) as exc:
            return [f"fleet.catalogue: cannot read {self.catalogue!r}: {exc}"]
        problems = []
        for name, pool in self.pools.items():
            overrides = (pool.gpus, pool.gpu_memory_gib, pool.bandwidth_gb_s, pool.fp16_tflops, pool.price_per_hour)
            if pool.instance_type not in known and None in overrides:
                problems.append(f"fleet.pools.{name}.instance_type: {pool.instance_type!r} is not in the catalogue "
                                f"(known: {', '.join(sorted(known))}); or give gpus, gpu_memory_gib, bandwidth_gb_s, "
                                "fp16_tflops and price_per_hour")
        return problems

    def _deploy_problems(self) -> list[str]:
        import re

        problems = []
        for name, model in self.models.items():
            missing = [field for field in ("image", "model_id") if getattr(model, field) is None]
            if missing:
                problems.append(f"fleet.models.{name}: deploy: true needs {' and '.join(missing)}")
            elif (trouble := _image_problem(model.image or "")) is not None:
                problems.append(f"fleet.models.{name}.image: {trouble}")
        for section, names in (("models", self.models), ("pools", self.pools)):
            for name in names:
                if not re.match(SAGEMAKER_NAME, f"{self.endpoint_prefix}-{name}"):
                    problems.append(f"fleet.{section}.{name}: {self.endpoint_prefix}-{name} is not a SageMaker name "
                                    "(letters, digits and hyphens, at most 63)")
        return problems


def _image_problem(image: str) -> str | None:
    from llm_mesh.config.self_hosted import parse_image

    try:
        parse_image(image)
    except ValueError as exc:
        return str(exc)
    return None
