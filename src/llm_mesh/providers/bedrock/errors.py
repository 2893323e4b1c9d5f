"""Bedrock error classification: botocore exceptions -> mesh errors.

Error codes are the Bedrock Runtime exception shapes (HTTP errors from
Converse/ConverseStream/InvokeModel) and the ConverseStream exception events
(``throttlingException``...), which botocore raises as ``EventStreamError`` with
the event name as the code. Messages never carry credentials or raw headers.
"""

from __future__ import annotations

from typing import Any

from llm_mesh.errors import (
    ContentPolicyViolation,
    ContextLengthExceeded,
    InvalidRequest,
    MeshError,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from llm_mesh.providers.aws_common import map_boto_exception
from llm_mesh.providers.eventstream import client_error_parts

DEFAULT_RETRY_AFTER = "1"  # Bedrock sends no Retry-After; clients still get a hint

_CONTEXT_MARKERS = (
    "too long",
    "context window",
    "context length",
    "maximum context",
    "input is too large",
    "too many input tokens",
    "prompt is too long",
)
_FILTER_MARKERS = ("content filter", "blocked by", "guardrail")


def _normalise(code: str) -> str:
    code = code.split(":", 1)[0]
    return code[:1].upper() + code[1:]


def classify_client_error(provider: str, code: str, message: str, headers: dict[str, str] | None = None) -> MeshError:
    headers = headers or {}
    name = _normalise(code)
    detail = f": {message}" if message else ""
    lowered = message.lower()
    if name in ("ThrottlingException", "ServiceQuotaExceededException", "TooManyRequestsException"):
        retry_after = headers.get("retry-after") or DEFAULT_RETRY_AFTER
        return RateLimited(f"provider {provider} is rate limiting{detail}", headers={"Retry-After": retry_after})
    if name == "ValidationException":
        if any(marker in lowered for marker in _CONTEXT_MARKERS) or "context" in lowered:
            return ContextLengthExceeded(f"provider {provider}: {message}")
        if any(marker in lowered for marker in _FILTER_MARKERS):
            return ContentPolicyViolation(f"provider {provider}: {message}")
        return InvalidRequest(f"provider {provider} rejected the request{detail}")
    if name == "ResourceNotFoundException":
        return InvalidRequest(f"provider {provider} does not know this model{detail}", code="upstream_model_not_found")
    if name in ("AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException",
                "ExpiredTokenException"):
        # The caller cannot fix the mesh's own IAM identity: a gateway-side fault.
        return UpstreamError(f"provider {provider} refused the mesh's credentials", code="upstream_auth_failed")
    if name in ("ServiceUnavailableException", "ModelNotReadyException", "ServiceUnavailable"):
        return UpstreamUnavailable(f"provider {provider} is unavailable{detail}")
    if name == "ModelTimeoutException":
        return UpstreamTimeout(f"provider {provider} timed out{detail}")
    if name == "ModelStreamErrorException":
        return UpstreamError(f"provider {provider} failed mid-stream{detail}", code="model_stream_error")
    if name == "ModelErrorException":
        return UpstreamError(f"provider {provider}: the model failed{detail}", code="model_error")
    if name == "InternalServerException":
        return UpstreamError(f"provider {provider} had an internal error{detail}")
    return UpstreamError(f"provider {provider} failed ({name or 'unknown error'}){detail}")


def map_exception(provider: str, exc: BaseException, *, streaming: bool = False) -> MeshError:
    """Any exception out of a boto3 call or event-stream iteration -> mesh error."""

    def client_error(error: Any) -> MeshError:
        code, message, _status, headers = client_error_parts(error)
        return classify_client_error(provider, code, message, headers)

    return map_boto_exception(provider, exc, client_error, streaming=streaming)
