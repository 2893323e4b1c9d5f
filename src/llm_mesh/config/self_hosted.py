"""Self-hosted model endpoints declared in mesh.yaml (``self_hosted:``).

Each entry describes a SageMaker real-time endpoint the CDK app deploys
(infra/components/self_hosted.py) and implies, unless the config already declares
them, a ``sagemaker`` provider, a route and a registry entry of the same name:
``expand_self_hosted`` adds them to the raw config before validation, so
``mesh validate``, the gateway and ``cdk synth`` all see the same expanded config.

Scale to zero: SageMaker scales an endpoint to and from zero instances only when it
hosts inference components (managed instance scaling with MinInstanceCount 0), so
``autoscaling.scale_to_zero`` requires ``inference_components: true``.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

Payload = Literal["tgi", "vllm_openai", "lmi"]

# SageMaker endpoint / inference component names: [a-zA-Z0-9](-*[a-zA-Z0-9])*, at most 63.
# Entries keep 3 characters spare for the "-ic" inference component suffix.
ENDPOINT_NAME = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,59}$"
IC_SUFFIX = "-ic"
VARIANT_NAME = "AllTraffic"

# AWS Deep Learning Containers (account 763104351884 in the commercial regions).
DLC_ACCOUNT = "763104351884"


@dataclass(frozen=True)
class DlcAlias:
    repository: str
    payload: Payload
    model_env: str  # the variable the container reads the model id (or /opt/ml/model) from


DLC_ALIASES: dict[str, DlcAlias] = {
    "tgi": DlcAlias("huggingface-pytorch-tgi-inference", "tgi", "HF_MODEL_ID"),
    "vllm": DlcAlias("vllm", "vllm_openai", "SM_VLLM_MODEL"),
    "lmi": DlcAlias("djl-inference", "lmi", "HF_MODEL_ID"),
}

_ALIAS = re.compile(r"^(?P<alias>[a-z]+):(?P<tag>[A-Za-z0-9][A-Za-z0-9._-]{0,127})$")
_ECR = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z]{2}(-[a-z]+)+-\d+)\.amazonaws\.com(\.cn)?"
    r"/(?P<repository>[a-z0-9][a-z0-9._/-]{1,255})(:(?P<tag>[A-Za-z0-9_][A-Za-z0-9._-]{0,127})|@sha256:[0-9a-f]{64})$"
)
_HF_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?$")
_S3 = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<prefix>[^\s*?]+)$")
_SECRET_WORDS = frozenset({"TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "CREDENTIALS", "APIKEY"})
_SECRET_PAIRS = ("API_KEY", "ACCESS_KEY", "PRIVATE_KEY")


def _looks_secret(name: str) -> bool:
    upper = name.upper()
    return bool(_SECRET_WORDS.intersection(upper.split("_"))) or any(pair in upper for pair in _SECRET_PAIRS)


@dataclass(frozen=True)
class ImageRef:
    """Where a container image lives; ``account``/``region`` None means the DLC account in the stack's region."""

    repository: str
    tag: str | None
    account: str | None
    region: str | None
    uri: str | None  # the full URI for an explicit ECR image; None for an alias
    alias: DlcAlias | None


def parse_image(image: str) -> ImageRef:
    """An ECR URI or ``tgi|vllm|lmi:<tag>``; raises ValueError otherwise."""
    match = _ALIAS.match(image)
    if match:
        alias = DLC_ALIASES.get(match["alias"])
        if alias is None:
            raise ValueError(f"unknown image alias {match['alias']!r}; known: {', '.join(sorted(DLC_ALIASES))}")
        return ImageRef(alias.repository, match["tag"], None, None, None, alias)
    match = _ECR.match(image)
    if match:
        return ImageRef(match["repository"], match["tag"], match["account"], match["region"], image, None)
    raise ValueError(
        "image must be an ECR image URI (<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>) "
        f"or a Deep Learning Container alias <{'|'.join(sorted(DLC_ALIASES))}>:<version>"
    )


def parse_s3_uri(uri: str) -> tuple[str, str] | None:
    """(bucket, prefix) of an ``s3://`` model location, or None for a Hugging Face id."""
    match = _S3.match(uri)
    return (match["bucket"], match["prefix"]) if match else None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SelfHostedAutoscaling(_Strict):
    min: int | None = Field(default=None, ge=0, le=1000, description="default: 0 with scale_to_zero, else 1")
    max: int = Field(default=1, ge=1, le=1000)
    target_invocations_per_instance: int = Field(
        default=10, ge=1, le=100_000,
        description="target tracking value: invocations per instance (per model copy with inference components) per minute",
    )
    scale_to_zero: bool = False
    scale_in_cooldown: int = Field(default=300, ge=0, le=86_400, description="seconds")
    scale_out_cooldown: int = Field(default=60, ge=0, le=86_400, description="seconds")

    @property
    def min_capacity(self) -> int:
        return self.min if self.min is not None else (0 if self.scale_to_zero else 1)

    @model_validator(mode="after")
    def _bounds(self) -> "SelfHostedAutoscaling":
        if self.min_capacity > self.max:
            raise ValueError(f"min ({self.min_capacity}) exceeds max ({self.max})")
        if self.min_capacity == 0 and not self.scale_to_zero:
            raise ValueError("min 0 means scaling to zero: set scale_to_zero: true (needs inference_components)")
        if self.scale_to_zero and self.min_capacity != 0:
            raise ValueError("scale_to_zero: true needs min 0 (or leave min out)")
        return self


class SelfHostedCompute(_Strict):
    """Per model copy, for inference components."""

    accelerators: int = Field(default=1, ge=0, le=64, description="GPUs (or Neuron cores) per copy")
    memory_mb: int = Field(default=1024, ge=128, le=4_000_000)
    cpus: float | None = Field(default=None, gt=0, le=1024)


class SelfHostedEndpoint(_Strict):
    image: str = Field(description="ECR image URI, or a Deep Learning Container alias: tgi:<tag>, vllm:<tag>, lmi:<tag>")
    model_id: str = Field(description="Hugging Face model id, or s3://bucket/prefix/ of uncompressed model files")
    instance_type: str = Field(pattern=r"^ml\.[a-z0-9-]+\.[a-z0-9]+$")
    initial_instance_count: int = Field(default=1, ge=1, le=1000)
    environment: dict[str, str] = Field(default_factory=dict, description="container environment (non-secret)")
    autoscaling: SelfHostedAutoscaling = SelfHostedAutoscaling()
    inference_components: bool = Field(
        default=False, description="host the model as an inference component (managed instance scaling)"
    )
    compute: SelfHostedCompute = SelfHostedCompute()
    payload: Payload | None = Field(default=None, description="request format; default: from the image alias")
    region: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[a-z]+)+-\d+$")
    owner: str | None = None
    description: str | None = None
    context_window: int | None = Field(default=None, ge=1)

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        parse_image(value)
        return value

    @field_validator("model_id")
    @classmethod
    def _model_id(cls, value: str) -> str:
        if value.startswith("s3://"):
            if parse_s3_uri(value) is None:
                raise ValueError("an S3 model location is s3://<bucket>/<prefix>/ (no wildcards)")
        elif not _HF_ID.match(value):
            raise ValueError("model_id must be a Hugging Face id (org/name) or s3://bucket/prefix/")
        return value

    @field_validator("environment")
    @classmethod
    def _no_secrets(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
                raise ValueError(f"environment variable name {key!r} is not valid")
            if _looks_secret(key):
                raise ValueError(
                    f"environment.{key} looks like a credential; endpoint environments are stored in clear "
                    "in the endpoint's model definition (use S3 model files instead of a gated-model token)"
                )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "SelfHostedEndpoint":
        if self.autoscaling.scale_to_zero and not self.inference_components:
            raise ValueError(
                "autoscaling.scale_to_zero requires inference_components: true (SageMaker scales an endpoint "
                "to zero instances only when it hosts inference components, with managed instance scaling min 0)"
            )
        if self.payload is None and parse_image(self.image).alias is None:
            raise ValueError("payload is required for a custom image: tgi, vllm_openai or lmi")
        if self.initial_instance_count > self.autoscaling.max:
            raise ValueError(
                f"initial_instance_count ({self.initial_instance_count}) exceeds autoscaling.max ({self.autoscaling.max})"
            )
        return self

    @property
    def payload_format(self) -> Payload:
        if self.payload is not None:
            return self.payload
        alias = parse_image(self.image).alias
        assert alias is not None
        return alias.payload


def _endpoint_names(section: dict[str, SelfHostedEndpoint]) -> dict[str, SelfHostedEndpoint]:
    bad = [name for name in section if not re.match(ENDPOINT_NAME, name)]
    if bad:
        raise ValueError(
            f"self-hosted name(s) {', '.join(map(repr, bad))} become SageMaker endpoint names and must match "
            f"{ENDPOINT_NAME} (letters, digits, hyphens; at most 60)"
        )
    return section


SelfHostedSection = Annotated[dict[str, SelfHostedEndpoint], AfterValidator(_endpoint_names)]


def inference_component_name(name: str) -> str:
    return f"{name}{IC_SUFFIX}"


def _payload_of(entry: dict[str, Any]) -> str:
    if entry.get("payload"):
        return str(entry["payload"])
    try:
        alias = parse_image(str(entry.get("image", ""))).alias
    except ValueError:
        alias = None
    return alias.payload if alias else "tgi"


def expand_self_hosted(config: Any) -> Any:
    """The raw config plus, per self-hosted entry, a provider, a route and a registry entry.

    Pure: the input is not modified. Anything the config already declares under the
    same name wins. Malformed sections are passed through untouched for validation to
    report with their paths.
    """
    if not isinstance(config, dict):
        return config
    section = config.get("self_hosted")
    if not isinstance(section, dict) or not section:
        return config
    out = copy.deepcopy(config)
    kinds = (("providers", dict), ("routes", dict), ("models", dict))
    for key, _ in kinds:
        if out.get(key) is None:
            out[key] = {}
        if not isinstance(out[key], dict):
            return config  # let validation report the malformed section as written
    for name, entry in section.items():
        if not isinstance(entry, dict) or not re.match(ENDPOINT_NAME, str(name)):
            continue  # validation reports it under self_hosted.<name>
        payload = _payload_of(entry)
        options: dict[str, Any] = {"endpoint_name": name, "payload_format": payload}
        if entry.get("region"):
            options["region"] = entry["region"]
        if entry.get("inference_components"):
            options["inference_component"] = inference_component_name(str(name))
        if entry.get("context_window"):
            options["context_window"] = entry["context_window"]
        out["providers"].setdefault(name, {"kind": "sagemaker", "options": options})
        out["routes"].setdefault(name, {"provider": name, "model": name})
        model: dict[str, Any] = {
            "provider": name,
            "model": name,
            "hosting": "self_hosted",
            "description": entry.get("description") or f"{entry.get('model_id')} on {entry.get('instance_type')}",
            "capabilities": {"tools": payload == "vllm_openai", "json_schema": payload == "vllm_openai"},
        }
        if entry.get("context_window"):
            model["capabilities"]["context_window"] = entry["context_window"]
        for field in ("owner", "region"):
            if entry.get(field):
                model[field] = entry[field]
        out["models"].setdefault(name, model)
    return out
