"""Mesh errors and their OpenAI wire shape.

Every failure a client can see is one of these; the HTTP adapter turns it into
``{"error": {"message", "type", "param", "code"}}`` with the matching status.
Messages never carry secrets or upstream bodies verbatim.
"""

from __future__ import annotations

from typing import Any


class MeshError(Exception):
    status: int = 500
    type: str = "server_error"
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        self.headers = dict(headers or {})

    def to_body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequest(MeshError):
    status = 400
    type = "invalid_request_error"


class ContextLengthExceeded(InvalidRequest):
    code = "context_length_exceeded"


class ContentPolicyViolation(InvalidRequest):
    code = "content_policy_violation"


class AuthenticationFailed(MeshError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class PermissionDenied(MeshError):
    status = 403
    type = "permission_error"
    code = "permission_denied"


class NotFound(MeshError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"


class ModelNotFound(NotFound):
    code = "model_not_found"


class PayloadTooLarge(MeshError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class RequestTimeout(MeshError):
    """The client did not send its request (headers or body) within the server's deadline."""

    status = 408
    type = "invalid_request_error"
    code = "request_timeout"


class RateLimited(MeshError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"


class BudgetExceeded(RateLimited):
    code = "budget_exceeded"


class UpstreamError(MeshError):
    """The provider answered with an error or garbage."""

    status = 502
    type = "upstream_error"
    code = "bad_gateway"


class UpstreamUnavailable(UpstreamError):
    status = 503
    code = "upstream_unavailable"


class UpstreamSaturated(UpstreamUnavailable):
    """The mesh's own connection pool to the provider stayed full: shed, not the upstream's fault."""

    code = "upstream_pool_exhausted"


class UpstreamWaking(UpstreamUnavailable):
    """The target has no capacity until it scales out (a SageMaker inference component at zero
    copies): fail over at once, and not a failure of the target, so its circuit stays closed."""

    code = "upstream_scaled_to_zero"


class UpstreamTimeout(UpstreamError):
    status = 504
    code = "upstream_timeout"


class InternalError(MeshError):
    status = 500
    type = "server_error"
    code = "internal_error"
