"""The mesh.yaml schema.

One file declares providers, routes and apps; later capabilities add their own
sections here. Every model forbids unknown keys so a typo is an error with a path,
not a silently ignored setting. Credentials are references only (an environment
variable locally, a Secrets Manager secret on AWS): an inline secret is rejected.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from llm_mesh.agents.config import AgentsSection
from llm_mesh.policy.config import PolicyConfig
from llm_mesh.policy.governance import GovernanceConfig
from llm_mesh.providers.catalog import PROVIDER_KINDS, validate_provider_options
from llm_mesh.cost.config import CostConfig, check_references as cost_references
from llm_mesh.kb.config import KnowledgeBaseConfig, check_references as kb_references
from llm_mesh.prompts.config import ExperimentConfig, PromptsConfig
from llm_mesh.config.self_hosted import SelfHostedSection
from llm_mesh.config.base import SecretRef, Strict  # noqa: F401  (SecretRef re-exported: part of the schema's surface)
from llm_mesh.fleet.config import FleetSection
from llm_mesh.telemetry.config import ObservabilityConfig

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"
_NAME = re.compile(NAME_PATTERN)


class Timeouts(Strict):
    connect: float = Field(default=5.0, gt=0, le=60, description="establishing a new connection to the upstream")
    pool: float = Field(
        default=30.0, gt=0, le=900,
        description="waiting for one of the provider's max_connections; past it the call is shed with 503, never a 504",
    )
    read: float = Field(default=120.0, gt=0, le=900)
    first_token: float | None = Field(
        default=None, gt=0, le=900, description="give up on a stream with no first chunk after this"
    )


class ProviderConfig(Strict):
    kind: str
    base_url: str | None = None
    api_key: SecretRef | None = None
    timeouts: Timeouts = Timeouts()
    max_connections: int = Field(default=256, ge=1, le=10_000, description="upstream calls in flight at once")
    headers: dict[str, str] = Field(default_factory=dict, description="static, non-secret headers")
    options: dict[str, Any] = Field(default_factory=dict, description="kind-specific settings")

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value not in PROVIDER_KINDS:
            raise ValueError(f"unknown provider kind {value!r}; known kinds: {', '.join(sorted(PROVIDER_KINDS))}")
        return value

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/?#]+(/[^\s?#]*)?$", value):
            raise ValueError("base_url must be an http(s) URL without query or fragment")
        return value.rstrip("/") if value else value

    @field_validator("headers")
    @classmethod
    def _no_secret_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if name.lower() in {"authorization", "api-key", "x-api-key", "proxy-authorization"}:
                raise ValueError(f"header {name!r} carries a credential; use api_key with a reference")
        return value

    @model_validator(mode="after")
    def _kind_options(self) -> "ProviderConfig":
        validate_provider_options(self.kind, self.options)
        return self


class TargetWhen(Strict):
    """Conditions on request metadata; a target applies when all given ones match."""

    apps: tuple[str, ...] = ()
    tags: dict[str, str] = Field(default_factory=dict, description="request tags (x-mesh-tags) that must match")
    classifications: tuple[str, ...] = Field(
        default=(), description="data classifications (set by the policy engine, e.g. 'pii') this target accepts"
    )


class TargetConfig(Strict):
    provider: str | None = None
    model: str | None = None
    route: str | None = Field(default=None, description="a nested route instead of a provider")
    weight: float = Field(default=1.0, ge=0)
    timeout: float | None = Field(default=None, gt=0, le=900)
    when: TargetWhen | None = Field(default=None, description="only for requests matching these conditions")

    @model_validator(mode="after")
    def _provider_or_route(self) -> "TargetConfig":
        if self.route is not None:
            if self.provider is not None or self.model is not None:
                raise ValueError("a target is either a route or a provider+model, not both")
        elif self.provider is None or self.model is None:
            raise ValueError("a target needs provider and model (or route)")
        return self


class RetryConfig(Strict):
    attempts: int = Field(default=0, ge=0, le=5, description="retries of the same target before moving on")
    backoff_base: float = Field(default=0.05, ge=0, le=10, description="seconds; doubled per retry, with jitter")
    backoff_max: float = Field(default=2.0, ge=0, le=60)
    retry_after_max: float = Field(
        default=5.0, ge=0, le=60, description="honour an upstream Retry-After up to this many seconds, else fail over"
    )


class CircuitBreakerConfig(Strict):
    failure_threshold: int = Field(default=5, ge=1, le=1000)
    window_seconds: float = Field(default=60, gt=0, le=3600)
    cooldown_seconds: float = Field(default=30, gt=0, le=3600)


class RouteConfig(Strict):
    description: str | None = None
    provider: str | None = Field(default=None, description="shorthand for a single target")
    model: str | None = None
    targets: tuple[TargetConfig, ...] = ()
    strategy: Literal["priority", "weighted", "lowest_latency", "lowest_cost"] = "priority"
    retry: RetryConfig = RetryConfig()
    circuit_breaker: CircuitBreakerConfig = CircuitBreakerConfig()
    knowledge_base: str | None = Field(default=None, description="no-code RAG: inject retrieval from this knowledge base")

    @model_validator(mode="after")
    def _normalise(self) -> "RouteConfig":
        if self.provider is not None or self.model is not None:
            if self.targets:
                raise ValueError("give either provider+model or targets, not both")
            if self.provider is None or self.model is None:
                raise ValueError("a single-target route needs both provider and model")
            object.__setattr__(self, "targets", (TargetConfig(provider=self.provider, model=self.model),))
        if not self.targets:
            raise ValueError("a route needs at least one target")
        return self


class AppConfig(Strict):
    description: str | None = None
    routes: tuple[str, ...] | Literal["*"] = Field(
        default=(), description="route names this app may call, or '*' for all"
    )
    principals: tuple[str, ...] = Field(
        default=(), description="IAM principal ARNs (roles, users) that act as this app on AWS"
    )
    admin: bool = Field(default=False, description="may call the /v1/mesh management API")

    @field_validator("principals")
    @classmethod
    def _arns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for arn in value:
            if not arn.startswith("arn:aws"):
                raise ValueError(f"{arn!r} is not an IAM ARN")
        return value

    def may_use(self, route: str) -> bool:
        return self.routes == "*" or route in self.routes


class ModelCapabilities(Strict):
    tools: bool = True
    vision: bool = False
    json_schema: bool = True
    embeddings: bool = False
    context_window: int | None = Field(default=None, ge=1)
    max_output_tokens: int | None = Field(default=None, ge=1)


class ModelPrices(Strict):
    """USD per million tokens (decimal strings keep them exact)."""

    input: str = "0"
    output: str = "0"
    cached_input: str | None = None


class ModelEntry(Strict):
    """A model in the registry: who owns it, what it can do, where it runs."""

    provider: str
    model: str
    owner: str | None = None
    description: str | None = None
    capabilities: ModelCapabilities = ModelCapabilities()
    region: str | None = None
    hosting: Literal["public_api", "in_region", "self_hosted"] = "public_api"
    prices: ModelPrices | None = None
    sla: str | None = None
    guardrails: tuple[str, ...] = ()


class FragmentRecord(Strict):
    """One loaded registry fragment (set by the loader from the fragment files, not written by hand)."""

    unit: str
    path: str = Field(description="relative to the mesh config's directory")
    owner: str
    description: str | None = None
    sla: str | None = None
    guardrails: tuple[str, ...] = ()
    hosting: Literal["public_api", "in_region", "self_hosted"] | None = None
    region: str | None = None
    models: tuple[str, ...] = ()
    routes: tuple[str, ...] = ()


class RegistrySettings(Strict):
    """Federated registry: business units' fragments merged into this config (see README)."""

    directory: str | None = Field(
        default="registry", description="fragments at <directory>/<unit>/*.yaml beside mesh.yaml; null: no discovery")
    include: tuple[str, ...] = Field(default=(), description="further fragment files or globs, relative to mesh.yaml")
    fragments: tuple[FragmentRecord, ...] = Field(default=(), description="filled by the loader; do not write")


class ServerConfig(Strict):
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    header_timeout_seconds: float = Field(
        default=10.0, gt=0, le=300, description="a request's line and headers must arrive within this (else 408)")
    body_timeout_seconds: float = Field(
        default=30.0, gt=0, le=900, description="a request body must arrive within this once its headers have (else 408)")
    keep_alive_seconds: int = Field(default=5, ge=1, le=300, description="an idle kept-alive connection is closed after this")
    request_log: bool = True


class MeshConfig(Strict):
    version: Literal[1] = 1
    server: ServerConfig = ServerConfig()
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    routes: dict[str, RouteConfig] = Field(default_factory=dict)
    apps: dict[str, AppConfig] = Field(default_factory=dict)
    models: dict[str, ModelEntry] = Field(default_factory=dict, description="the model registry")
    knowledge_bases: dict[str, KnowledgeBaseConfig] = Field(default_factory=dict, description="RAG knowledge bases")
    prompts: PromptsConfig | None = Field(default=None, description="the prompt catalogue")
    experiments: dict[str, ExperimentConfig] = Field(default_factory=dict, description="prompt A/B experiments")
    self_hosted: SelfHostedSection = Field(default_factory=dict, description="SageMaker endpoints the CDK app deploys")
    policies: dict[str, PolicyConfig] = Field(default_factory=dict, description="named PII/secret policies")
    governance: GovernanceConfig = Field(default_factory=GovernanceConfig, description="policy bindings, residency, audit")
    agents: AgentsSection = Field(default_factory=AgentsSection, description="agent tools and definitions")
    costs: CostConfig | None = Field(default=None, description="prices, budgets, rate limits, cache, ledger")
    fleet: FleetSection | None = Field(default=None, description="GPU pools and self-hosted models the fleet planner packs")
    registry: RegistrySettings = Field(default_factory=RegistrySettings,
                                       description="business units' fragments: their models and routes")
    observability: ObservabilityConfig = Field(default_factory=ObservabilityConfig,
                                               description="optional telemetry export (OpenTelemetry OTLP), off by default")

    @model_validator(mode="after")
    def _references(self) -> "MeshConfig":
        problems: list[str] = []
        for name, entry in self.models.items():
            if entry.provider not in self.providers:
                problems.append(f"models.{name}.provider: unknown provider {entry.provider!r}")
        for kind, names in (("provider", self.providers), ("route", self.routes), ("app", self.apps)):
            for name in names:
                if not _NAME.match(name):
                    problems.append(f"{kind} name {name!r} must match {NAME_PATTERN}")
        for route_name, route in self.routes.items():
            for index, target in enumerate(route.targets):
                where = f"routes.{route_name}.targets.{index}"
                if target.provider is not None and target.provider not in self.providers:
                    problems.append(f"{where}.provider: unknown provider {target.provider!r}")
                if target.route is not None and target.route not in self.routes:
                    problems.append(f"{where}.route: unknown route {target.route!r}")
        problems.extend(_route_cycles(self.routes))
        problems.extend(kb_references(self))
        problems.extend(cost_references(self))
        problems.extend(self.governance.problems(self))
        seen_principals: dict[str, str] = {}
        for app_name, app in self.apps.items():
            if app.routes != "*":
                for route_name in app.routes:
                    if route_name not in self.routes:
                        problems.append(f"apps.{app_name}.routes: unknown route {route_name!r}")
            for arn in app.principals:
                if arn in seen_principals:
                    problems.append(
                        f"apps.{app_name}.principals: {arn} already belongs to app {seen_principals[arn]!r}"
                    )
                seen_principals[arn] = app_name
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def model_entry(self, provider: str, model: str) -> ModelEntry | None:
        for entry in self.models.values():
            if entry.provider == provider and entry.model == model:
                return entry
        return None

    def app_for_principal(self, arn: str) -> str | None:
        for name, app in self.apps.items():
            if arn in app.principals:
                return name
        return None


def _route_cycles(routes: dict[str, RouteConfig]) -> list[str]:
    problems = []
    for start in routes:
        stack = [(start, (start,))]
        while stack:
            name, path = stack.pop()
            for target in routes[name].targets if name in routes else ():
                if target.route is None:
                    continue
                if target.route == start:
                    problems.append(f"routes.{start}: cycle {' -> '.join(path + (start,))}")
                    stack.clear()
                    break
                if target.route not in path:
                    stack.append((target.route, path + (target.route,)))
    return problems
