"""SageMaker Runtime error classification: botocore exceptions -> mesh errors.

``ModelError`` (HTTP 424) wraps the container's own answer: its ``OriginalStatusCode``
and ``OriginalMessage`` decide (a container 429 is a rate limit, a 400/413/422 that
talks about input length is a context error). Stream errors arrive as
``ModelStreamError`` / ``InternalStreamFailure`` events. An inference component scaled to
zero copies answers ``ValidationError`` (400) "Inference Component has no capacity to
process this request. ApplicationAutoScaling may be in-progress ..." while it wakes: that
is ``UpstreamWaking`` (fail over, circuit untouched), not the caller's mistake.
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
    UpstreamUnavailable,
    UpstreamWaking,
)
from llm_mesh.providers.aws_common import map_boto_exception
from llm_mesh.providers.eventstream import client_error_parts

DEFAULT_RETRY_AFTER = "1"
WAKING_RETRY_AFTER = "60"  # scaling out from zero provisions an instance: minutes
NO_CAPACITY_MARKER = "has no capacity to process this request"
_CONTEXT_MARKERS = (
    "maximum context length",
    "context length",
    "context window",
    "too long",
    "must be <=",  # TGI: `inputs` tokens + `max_new_tokens` must be <= N
    "must have less than",  # TGI: `inputs` must have less than N tokens
    "input length",
    "exceeds the max",
)


def _original_message(message: str) -> str:
    return message[:500]


def classify(provider: str, code: str, message: str, extra: dict[str, Any] | None = None) -> MeshError:
    extra = extra or {}
    lowered = message.lower()
    detail = f": {message[:300]}" if message else ""
    if code in ("ThrottlingException", "TooManyRequestsException"):
        return RateLimited(f"provider {provider} is rate limiting{detail}", headers={"Retry-After": DEFAULT_RETRY_AFTER})
    if code == "ModelError":
        original_status = extra.get("OriginalStatusCode")
        original = str(extra.get("OriginalMessage") or "")
        low = original.lower()
        if original_status == 429:
            return RateLimited(f"provider {provider}: the model is overloaded", headers={"Retry-After": DEFAULT_RETRY_AFTER})
        if any(marker in low for marker in _CONTEXT_MARKERS):
            return ContextLengthExceeded(f"provider {provider}: {original[:300]}")
        if "content" in low and ("filter" in low or "policy" in low):
            return ContentPolicyViolation(f"provider {provider}: {original[:300]}")
        if isinstance(original_status, int) and 400 <= original_status < 500:
            return InvalidRequest(f"provider {provider}: the model rejected the request: {original[:300]}")
        if original_status == 503:
            return UpstreamUnavailable(f"provider {provider}: the model is unavailable")
        return UpstreamError(f"provider {provider}: the model failed{detail}", code="model_error")
    if code == "ValidationError":
        if NO_CAPACITY_MARKER in lowered:
            return UpstreamWaking(f"provider {provider}: the inference component is scaled to zero and waking",
                                  headers={"Retry-After": WAKING_RETRY_AFTER})
        if any(marker in lowered for marker in _CONTEXT_MARKERS):
            return ContextLengthExceeded(f"provider {provider}: {message[:300]}")
        if "not found" in lowered:
            return InvalidRequest(f"provider {provider}: endpoint not found{detail}", code="upstream_model_not_found")
        return InvalidRequest(f"provider {provider} rejected the request{detail}")
    if code in ("ModelNotReadyException", "ServiceUnavailable"):
        return UpstreamUnavailable(f"provider {provider} is unavailable{detail}")
    if code in ("AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException",
                "ExpiredTokenException", "IncompleteSignature"):
        return UpstreamError(f"provider {provider} refused the mesh's credentials", code="upstream_auth_failed")
    if code == "ModelStreamError":
        return UpstreamError(f"provider {provider}: the model failed mid-stream{detail}", code="model_stream_error")
    if code == "InternalStreamFailure":
        return UpstreamError(f"provider {provider}: the stream failed{detail}", code="stream_cut")
    return UpstreamError(f"provider {provider} failed ({code or 'unknown error'}){detail}")


def map_exception(provider: str, exc: BaseException, *, streaming: bool = False) -> MeshError:
    return map_boto_exception(provider, exc, lambda error: _client_error(provider, error), streaming=streaming)


def _client_error(provider: str, exc: Any) -> MeshError:
    code, message, _status, _headers = client_error_parts(exc)
    response = getattr(exc, "response", {}) or {}
    extra = {k: response.get(k) for k in ("OriginalStatusCode", "OriginalMessage")}
    error = response.get("Error") or {}
    for key in ("OriginalStatusCode", "OriginalMessage"):
        if extra.get(key) is None and key in error:
            extra[key] = error[key]
    if isinstance(extra.get("OriginalStatusCode"), str) and extra["OriginalStatusCode"].isdigit():
        extra["OriginalStatusCode"] = int(extra["OriginalStatusCode"])
    return classify(provider, code, message, extra)
