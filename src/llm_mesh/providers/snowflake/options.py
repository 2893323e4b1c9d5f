"""Options for the ``snowflake`` kind.

``base_url`` is the account URL (``https://<account-identifier>.snowflakecomputing.com``),
or give ``account`` and it is derived. ``api_key`` holds the bearer token (a
programmatic access token, an OAuth token, or a pre-made JWT); with ``keypair`` the
mesh signs its own key-pair JWTs from the private key instead.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from llm_mesh.config.base import SecretRef

TokenType = Literal["PROGRAMMATIC_ACCESS_TOKEN", "OAUTH", "KEYPAIR_JWT"]


class KeyPairAuth(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str = Field(min_length=1, max_length=256)
    private_key: SecretRef = Field(description="PEM (PKCS#8, unencrypted) RSA private key")
    lifetime_seconds: int = Field(default=3600, ge=60, le=3600, description="JWT lifetime; Snowflake allows 1 hour")


class SnowflakeOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+$", description="account identifier")
    token_type: TokenType = "PROGRAMMATIC_ACCESS_TOKEN"
    keypair: KeyPairAuth | None = None
    context_window: int | None = Field(default=None, ge=1)
