"""The ``governance`` section of mesh.yaml: which policy applies where, data
residency, prompt-injection screening, optional detectors, alerts and the audit trail.

The named policies themselves live in the top-level ``policies`` section
(:class:`~llm_mesh.policy.config.PolicyConfig`); this section binds them::

    policies:
      strict: {default_action: redact, actions: {US_SSN: block, SECRET: [block, alert]}}
      lenient: {default_action: mask}
    governance:
      bindings:
        default: lenient            # every request not bound below
        apps: {support-bot: strict}
        routes: {support-chat: strict}
        knowledge_bases: {hr-docs: strict}   # text retrieved from these KBs
        redact_api: {analytics: [lenient]}   # extra named policies an app may ask /v1/mesh/redact for
      residency:
        - classifications: [pii]
          hosting: [in_region, self_hosted]
          regions: [eu-west-1, eu-central-1]
      injection: {action: block, roles: [user, tool]}
      detectors:
        strict: [{kind: comprehend, region: eu-west-1}]
      alerts: {sns_topic_arn: arn:aws:sns:eu-west-1:123456789012:mesh-alerts}
      audit: {enabled: true, payloads: false}

Binding resolution for one request: the app's policy and the route's policy both
apply (app first, then route, one vault; the same policy once); with neither, the
``default`` one; with no default, no policy. Knowledge-base policies apply to the
messages a retrieval hook marks as retrieved (see :mod:`llm_mesh.policy.hook`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from llm_mesh.config.schema import MeshConfig

Hosting = Literal["public_api", "in_region", "self_hosted"]
ROLES = ("system", "user", "assistant", "tool")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bindings(_Strict):
    default: str | None = Field(default=None, description="policy for requests no app/route binding covers")
    apps: dict[str, str] = Field(default_factory=dict, description="app -> policy")
    routes: dict[str, str] = Field(default_factory=dict, description="route -> policy")
    knowledge_bases: dict[str, str] = Field(default_factory=dict, description="knowledge base -> policy")
    redact_api: dict[str, list[str]] = Field(
        default_factory=dict, description="app -> further named policies it may use on POST /v1/mesh/redact"
    )


class ResidencyRule(_Strict):
    """Requests carrying any of ``classifications`` may only reach registered models
    whose hosting is in ``hosting`` (and, if given, whose region is in ``regions``)."""

    classifications: list[str] = Field(min_length=1)
    hosting: list[Hosting] = Field(default_factory=lambda: ["in_region", "self_hosted"], min_length=1)
    regions: list[str] | None = None
    apps: list[str] | None = Field(default=None, description="only for these apps (all if unset)")
    routes: list[str] | None = Field(default=None, description="only for these routes (all if unset)")


class InjectionConfig(_Strict):
    action: Literal["off", "flag", "block"] = "flag"
    roles: list[Literal["system", "user", "assistant", "tool"]] = Field(default_factory=lambda: ["user", "tool"])
    retrieved: bool = Field(default=True, description="also scan messages a retrieval hook marked as retrieved")
    threshold: float = Field(default=0.5, ge=0.0, le=1.0, description="score at which the action fires")
    max_scan_chars: int = Field(default=200_000, ge=1000, description="scan at most this many characters per text")


class OptionalDetectorConfig(_Strict):
    kind: Literal["presidio", "comprehend", "bedrock_guardrail"]
    region: str | None = None
    language: str = "en"
    entity_types: list[str] | None = Field(default=None, description="keep only these (mapped) entity types")
    min_score: float = Field(default=0.5, ge=0.0, le=1.0)
    guardrail_id: str | None = None
    guardrail_version: str = "DRAFT"
    timeout: float = Field(default=2.0, gt=0, le=30)

    @model_validator(mode="after")
    def _guardrail(self) -> "OptionalDetectorConfig":
        if self.kind == "bedrock_guardrail" and not self.guardrail_id:
            raise ValueError("bedrock_guardrail needs guardrail_id")
        return self


class AlertsConfig(_Strict):
    sns_topic_arn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")
    log: bool = Field(default=True, description="also log alerts (value-free) locally")


class PayloadKey(_Strict):
    """How audit payloads are encrypted: a Fernet key from an env var, or a KMS key (AWS)."""

    env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    kms_key_id: str | None = None

    @model_validator(mode="after")
    def _one(self) -> "PayloadKey":
        if (self.env is None) == (self.kms_key_id is None):
            raise ValueError("give exactly one of env or kms_key_id")
        return self


class AuditConfig(_Strict):
    enabled: bool = True
    payloads: bool = Field(default=False, description="keep request/response payloads (encrypted)")
    payload_policies: list[str] | None = Field(
        default=None, description="keep payloads only for requests under these policies (all if unset)"
    )
    payload_key: PayloadKey | None = None
    partition: Literal["daily", "app"] = Field(default="daily", description="one chain per app per UTC day, or per app")
    max_payload_chars: int = Field(default=200_000, ge=1000)

    @model_validator(mode="after")
    def _key(self) -> "AuditConfig":
        if self.payloads and self.payload_key is None:
            raise ValueError("payloads: true needs payload_key ({env: VAR} with a Fernet key, or {kms_key_id: ...})")
        return self


class GovernanceConfig(_Strict):
    bindings: Bindings = Field(default_factory=Bindings)
    residency: list[ResidencyRule] = Field(default_factory=list)
    injection: InjectionConfig | None = None
    detectors: dict[str, list[OptionalDetectorConfig]] = Field(
        default_factory=dict, description="policy -> optional detectors (Presidio, Comprehend, Bedrock Guardrails)"
    )
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    audit: AuditConfig | None = None

    def is_empty(self) -> bool:
        b = self.bindings
        return not (
            b.default or b.apps or b.routes or b.knowledge_bases or self.residency or self.injection or self.audit
        )

    def problems(self, config: "MeshConfig") -> list[str]:
        """Cross-references to apps, routes and policies, as ``path: message`` lines."""
        out: list[str] = []
        policies = set(config.policies)

        def policy(where: str, name: str | None) -> None:
            if name is not None and name not in policies:
                known = ", ".join(sorted(policies)) or "(none declared)"
                out.append(f"{where}: unknown policy {name!r}; policies: {known}")

        b = self.bindings
        policy("governance.bindings.default", b.default)
        for app, name in b.apps.items():
            if app not in config.apps:
                out.append(f"governance.bindings.apps.{app}: unknown app {app!r}")
            policy(f"governance.bindings.apps.{app}", name)
        for route, name in b.routes.items():
            if route not in config.routes:
                out.append(f"governance.bindings.routes.{route}: unknown route {route!r}")
            policy(f"governance.bindings.routes.{route}", name)
        for kb, name in b.knowledge_bases.items():
            policy(f"governance.bindings.knowledge_bases.{kb}", name)
        for app, names in b.redact_api.items():
            if app not in config.apps:
                out.append(f"governance.bindings.redact_api.{app}: unknown app {app!r}")
            for i, name in enumerate(names):
                policy(f"governance.bindings.redact_api.{app}.{i}", name)
        for name in self.detectors:
            policy(f"governance.detectors.{name}", name)
        if self.audit and self.audit.payload_policies:
            for i, name in enumerate(self.audit.payload_policies):
                policy(f"governance.audit.payload_policies.{i}", name)
        for i, rule in enumerate(self.residency):
            for app in rule.apps or ():
                if app not in config.apps:
                    out.append(f"governance.residency.{i}.apps: unknown app {app!r}")
            for route in rule.routes or ():
                if route not in config.routes:
                    out.append(f"governance.residency.{i}.routes: unknown route {route!r}")
        return out


def governance_of(config: Any) -> GovernanceConfig:
    return getattr(config, "governance", None) or GovernanceConfig()
