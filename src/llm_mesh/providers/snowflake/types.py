"""Snowflake Cortex REST wire details.

The Chat Completions endpoint (``/api/v2/cortex/v1/chat/completions``) follows the
OpenAI specification; Snowflake-specific are the auth headers and the usage's
``guard_tokens`` (Cortex Guard), which the canonical usage keeps as an extra field.
"""

from __future__ import annotations

from typing import TypedDict

CHAT_PATH = "/api/v2/cortex/v1/chat/completions"
TOKEN_TYPE_HEADER = "X-Snowflake-Authorization-Token-Type"


class SnowflakeUsage(TypedDict, total=False):
    prompt_tokens: int
    completion_tokens: int
    guard_tokens: int
    total_tokens: int


class SnowflakeError(TypedDict, total=False):
    code: str
    message: str
    request_id: str


class KeyPairClaims(TypedDict):
    iss: str  # ACCOUNT.USER.SHA256:<base64 sha256 of the public key DER>
    sub: str  # ACCOUNT.USER
    iat: int
    exp: int
