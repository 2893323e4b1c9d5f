"""Databricks Model Serving wire details.

Chat endpoints take the OpenAI chat body (without ``model`` on ``/invocations``,
where the endpoint is in the path). Streams carry running ``usage`` totals on every
chunk. Errors are ``{"error_code": "...", "message": "..."}``.
"""

from __future__ import annotations

from typing import Literal, TypedDict

ErrorCode = Literal[
    "BAD_REQUEST", "INVALID_PARAMETER_VALUE", "REQUEST_LIMIT_EXCEEDED", "RESOURCE_DOES_NOT_EXIST",
    "PERMISSION_DENIED", "TEMPORARILY_UNAVAILABLE", "INTERNAL_ERROR",
]


class DatabricksError(TypedDict, total=False):
    error_code: str
    message: str


class InvocationsEmbeddingsRequest(TypedDict):
    input: str | list[str]
