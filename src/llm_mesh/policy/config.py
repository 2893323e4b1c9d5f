"""The ``policies`` section of mesh.yaml: named PII/secret policies.

Example::

    policies:
      default:
        default_action: redact
        actions: {CREDIT_CARD: mask, US_SSN: [block, alert], SECRET: block, IP_ADDRESS: allow}
        phone_regions: [US, GB, FR, DE]
        custom_patterns:
          - {entity_type: EMPLOYEE_ID, pattern: "EMP-\\d{6}"}
        deny_lists:
          - {entity_type: PROJECT_CODENAME, terms: [Bluebird, Project Falcon]}
        hash_salt: {env: MESH_PII_SALT}
        restore_output: true
        fail_mode: closed
        output: {forbidden_terms: [internal only]}
        toxicity: {kind: comprehend, action: block, threshold: 0.6, region: eu-west-1}
"""

from __future__ import annotations

import re
from typing import Any, Literal

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from llm_mesh.policy.actions import Action
from llm_mesh.policy.detectors.national_id import DEFAULT_NATIONAL_IDS, NATIONAL_ID_SPECS
from llm_mesh.policy.detectors.phone import DEFAULT_REGIONS as DEFAULT_PHONE_REGIONS
from llm_mesh.policy.findings import BUILTIN_TYPES, CATEGORIES, DENY_TERM
from llm_mesh.policy.toxicity import ToxicityConfig

DetectorName = Literal["email", "phone", "card", "iban", "national_id", "ip", "credentials", "custom", "deny_list"]
ALL_DETECTORS: tuple[str, ...] = ("email", "phone", "card", "iban", "national_id", "ip", "credentials", "custom", "deny_list")
_TYPE_NAME = r"^[A-Z][A-Z0-9_]{0,39}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SaltRef(_Strict):
    """Where the hash salt lives: exactly one of ``env`` or ``secret`` (never inline)."""

    env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    secret: str | None = Field(default=None, min_length=1, max_length=2048)
    field: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _reject_inline(cls, value: Any) -> Any:
        if isinstance(value, str):
            raise ValueError("inline salts are not allowed; reference one with {env: VAR} or {secret: NAME}")
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> "SaltRef":
        if (self.env is None) == (self.secret is None):
            raise ValueError("give exactly one of env or secret")
        return self


class CustomPatternConfig(_Strict):
    entity_type: str = Field(pattern=_TYPE_NAME)
    pattern: str = Field(min_length=1, max_length=2000)
    ignore_case: bool = False
    group: int = Field(default=0, ge=0)
    score: float = Field(default=0.8, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _compiles(self) -> "CustomPatternConfig":
        try:
            compiled = re.compile(self.pattern)
        except re.error as exc:
            raise ValueError(f"pattern does not compile: {exc}") from None
        if self.group > compiled.groups:
            raise ValueError(f"group {self.group} does not exist in the pattern")
        if compiled.match(""):
            raise ValueError("pattern matches the empty string")
        return self


class DenyListConfig(_Strict):
    entity_type: str = Field(default=DENY_TERM, pattern=_TYPE_NAME)
    terms: list[str] = Field(default_factory=list)
    source: Literal["static"] = "static"  # table-backed sources plug in via PolicyEngine.from_config(deny_sources=...)


class OutputGuardConfig(_Strict):
    check_pii: bool = True
    forbidden_terms: list[str] = Field(default_factory=list)
    max_sentence_chars: int = Field(default=2000, ge=64, le=100_000)


ActionSpec = Action | list[Action]


class PolicyConfig(_Strict):
    description: str | None = None
    detectors: list[DetectorName] | None = Field(default=None, description="enabled detector families; all if unset")
    actions: dict[str, ActionSpec] = Field(
        default_factory=dict, description="entity type or category (SECRET, NATIONAL_ID) -> action(s)"
    )
    default_action: Action = Action.REDACT
    min_score: float = Field(default=0.0, ge=0.0, le=1.0)
    phone_regions: list[str] = Field(default_factory=lambda: list(DEFAULT_PHONE_REGIONS))
    phone_mode: Literal["fast", "matcher"] = "fast"
    national_ids: list[str] = Field(default_factory=lambda: list(DEFAULT_NATIONAL_IDS))
    include_private_ips: bool = True
    custom_patterns: list[CustomPatternConfig] = Field(default_factory=list)
    deny_lists: list[DenyListConfig] = Field(default_factory=list)
    hash_salt: SaltRef | None = None
    restore_output: bool = True
    fail_mode: Literal["open", "closed"] = Field(
        default="closed", description="what an optional (remote/model) detector failure does: skip it or refuse"
    )
    output: OutputGuardConfig = Field(default_factory=OutputGuardConfig)
    toxicity: ToxicityConfig | None = Field(default=None, description="screen answers for toxicity (llm_mesh.policy.toxicity)")

    @field_validator("phone_regions")
    @classmethod
    def _regions(cls, value: list[str]) -> list[str]:
        known = phonenumbers.SUPPORTED_REGIONS
        out = []
        for r in value:
            if r.upper() not in known:
                raise ValueError(f"unknown phone region {r!r}")
            out.append(r.upper())
        return out

    @field_validator("national_ids")
    @classmethod
    def _ids(cls, value: list[str]) -> list[str]:
        for v in value:
            if v not in NATIONAL_ID_SPECS:
                raise ValueError(f"unknown national id {v!r}; known: {', '.join(sorted(NATIONAL_ID_SPECS))}")
        return value

    def entity_types(self) -> set[str]:
        return (
            set(BUILTIN_TYPES)
            | {p.entity_type for p in self.custom_patterns}
            | {d.entity_type for d in self.deny_lists}
        )

    @model_validator(mode="after")
    def _check(self) -> "PolicyConfig":
        known = self.entity_types() | set(CATEGORIES)
        for key, spec in self.actions.items():
            if key not in known:
                raise ValueError(f"actions: unknown entity type or category {key!r}")
            acts = spec if isinstance(spec, list) else [spec]
            if not acts:
                raise ValueError(f"actions.{key}: empty action list")
            if len([a for a in acts if a is not Action.ALERT]) > 1:
                raise ValueError(f"actions.{key}: at most one action besides alert")
        if self.default_action is Action.ALERT:
            raise ValueError("default_action cannot be alert alone; list actions per type to combine with alert")
        uses_hash = self.default_action is Action.HASH or any(
            Action.HASH in (s if isinstance(s, list) else [s]) for s in self.actions.values()
        )
        if uses_hash and self.hash_salt is None:
            raise ValueError("the hash action needs hash_salt ({env: VAR} or {secret: NAME})")
        return self


_POLICIES = TypeAdapter(dict[str, PolicyConfig])


def parse_policies(data: Any) -> dict[str, PolicyConfig]:
    """Validate a whole ``policies:`` mapping (name -> policy)."""
    return _POLICIES.validate_python(data or {})
