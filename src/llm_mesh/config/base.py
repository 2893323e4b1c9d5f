"""Config types every section shares: strict models and credential references.

Kept apart from :mod:`llm_mesh.config.schema` so a capability's own config
(agents, providers, knowledge bases) can use them without importing the whole
schema, which imports every capability's config: that was an import circle.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretRef(Strict):
    """Where a credential lives: exactly one of ``env`` or ``secret``."""

    env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    secret: str | None = Field(default=None, min_length=1, max_length=2048)
    field: str | None = Field(
        default=None, description="JSON key inside the Secrets Manager secret, when it holds JSON"
    )

    @model_validator(mode="before")
    @classmethod
    def _reject_inline(cls, value: Any) -> Any:
        if isinstance(value, str):
            raise ValueError(
                "inline secrets are not allowed; reference one with {env: VAR_NAME} "
                "or {secret: SECRETS_MANAGER_NAME}"
            )
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> "SecretRef":
        if (self.env is None) == (self.secret is None):
            raise ValueError("give exactly one of 'env' or 'secret'")
        return self
