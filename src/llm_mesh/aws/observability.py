"""Powertools Logger and Tracer for the mesh's Lambda functions.

``instrument(service)`` is a decorator factory for a Lambda handler. It builds one
Powertools ``Logger`` (JSON lines on stdout, RFC 3339 timestamps) and one ``Tracer``
*inside the factory* and applies, outermost first:

- ``Logger.inject_lambda_context(correlation_id_path=..., log_event=False)``: every line
  carries the Lambda context and the correlation id (API Gateway's request id by default);
  the event is never logged (it holds prompts and identities);
- ``Tracer.capture_lambda_handler(capture_response=False)``: an X-Ray subsegment per
  invocation, annotated ColdStart/Service, with botocore calls as subsegments; the
  response (model output) is never put into the trace (errors are: type and message).
  Only when tracing is on (``tracing_enabled``: on Lambda and ``POWERTOOLS_TRACE_DISABLED``
  not true); otherwise no Tracer is built and ``wrapped.tracer`` is None. The stack
  deploys with SDK subsegments off (cold start) unless ``-c xraySubsegments=true``.

Cost per invocation, measured locally with tracing disabled: ~120 us, half of it the
one summary line below (JSON formatting and the stdout write).

After a buffered API Gateway response the mesh request id (the ``x-mesh-request-id``
response header) is appended as key ``mesh_request_id`` and one summary line
("invocation done": status, route, provider, model, cache, cost; never a body) ties the
API Gateway request id to the mesh's own id and its audit/ledger records.

On AWS (``AWS_LAMBDA_FUNCTION_NAME`` set) the ``llm_mesh`` loggers are routed through the
Powertools handler (``copy_config_to_registered_loggers``), so the app's own log lines
are JSON with the same correlation keys. Elsewhere the process's logging is left alone
(tests import the handler modules; reconfiguring ``llm_mesh`` there would hide records
from pytest's caplog) unless ``route_mesh_logs=True`` is passed.

State: the Logger and Tracer live in the returned decorator's closure. Handler modules
apply ``instrument(...)`` at import, so there is one of each per warm Lambda instance,
next to the app those modules already keep (see functions/gateway/handler.py). The
Powertools ``Logger`` is itself a named ``logging`` logger (process-wide by name) and the
Tracer configures the X-Ray SDK globally: both are what Lambda expects, one handler per
process. Nothing else is kept at module level here.

The streaming function has no Python handler (uvicorn behind the Lambda Web Adapter);
``build_streaming_app`` sets up the same Logger for it and a small ASGI middleware that
takes the correlation id from the adapter's ``x-amzn-request-context`` header.

Configuration comes from the CDK stack's environment: ``POWERTOOLS_SERVICE_NAME``,
``POWERTOOLS_LOG_LEVEL``, ``POWERTOOLS_METRICS_NAMESPACE`` (the EMF sink's namespace,
``llm_mesh.aws.metrics.NAMESPACE``), ``POWERTOOLS_TRACE_DISABLED`` (true locally, and on AWS
unless SDK subsegments are opted in).
"""

from __future__ import annotations

import functools
import json
import logging
import os
from typing import IO, Any, Callable

MESH_LOGGER = "llm_mesh"
MESH_REQUEST_ID_HEADER = "x-mesh-request-id"
MESH_REQUEST_ID_KEY = "mesh_request_id"
API_GATEWAY_REST = "requestContext.requestId"  # == correlation_paths.API_GATEWAY_REST
# Correlation paths of the other event shapes the mesh's functions receive.
S3_EVENT = 'Records[0].responseElements."x-amz-request-id"'
CLOUDFORMATION_CUSTOM_RESOURCE = "RequestId"
AGENT_TASK = "state.run.run_id || state.run_id"
# Response headers summarised in the "invocation done" line (metadata only, never a body).
_SUMMARY_HEADERS = {"x-mesh-route": "route", "x-mesh-provider": "provider", "x-mesh-model": "model",
                    "x-mesh-cache": "cache", "x-mesh-cost-usd": "cost_usd"}

# X-Ray subsegments for AWS SDK calls only (DynamoDB, Secrets Manager, Bedrock, SageMaker...). httpx is
# not patched: the X-Ray SDK would add an X-Amzn-Trace-Id header to every request sent to third-party
# providers; their latency is in the EMF metrics (per provider) instead.
PATCH_MODULES = ("botocore",)

Handler = Callable[..., Any]


def on_aws(environ: Any = None) -> bool:
    return bool((os.environ if environ is None else environ).get("AWS_LAMBDA_FUNCTION_NAME"))


def make_logger(service: str, *, stream: IO[str] | None = None, route_mesh_logs: bool | None = None) -> Any:
    """A Powertools Logger for ``service``; on AWS the ``llm_mesh`` loggers write through it."""
    from aws_lambda_powertools import Logger

    logger = Logger(service=service, use_rfc3339=True, stream=stream)
    if on_aws() if route_mesh_logs is None else route_mesh_logs:
        from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

        logging.getLogger(MESH_LOGGER)  # registered, so the copy finds it; children propagate to it
        copy_config_to_registered_loggers(source_logger=logger, include={MESH_LOGGER})
    return logger


_TRUTHY = {"1", "y", "yes", "t", "true", "on"}  # Powertools' resolve_truthy_env_var_choice (strtobool)


def tracing_enabled(environ: Any = None) -> bool:
    """Whether the X-Ray SDK would record anything: the same test Powertools' Tracer makes
    (``Tracer._is_tracer_disabled``): on Lambda, not in SAM local or Chalice, and
    ``POWERTOOLS_TRACE_DISABLED`` not truthy."""
    environ = os.environ if environ is None else environ
    if environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() in _TRUTHY:
        return False
    emulated = environ.get("AWS_SAM_LOCAL") or environ.get("AWS_CHALICE_CLI_MODE")
    return bool(environ.get("LAMBDA_TASK_ROOT")) and not emulated


def _make_tracer(service: str, logger: Any) -> Any:
    # A disabled Tracer still imports the X-Ray SDK, whose import builds the global recorder and
    # its sampler's botocore client: 0.25-0.45 s of every cold start (bench/cold_start.py) for a
    # tracer that records nothing. So it is built only when it would record. Lambda's active
    # tracing records the invocation segment either way; SDK subsegments are the opt-in
    # (the stack's ``xraySubsegments`` context sets POWERTOOLS_TRACE_DISABLED=false).
    if not tracing_enabled():
        return None
    try:
        from aws_lambda_powertools import Tracer

        return Tracer(service=service, patch_modules=PATCH_MODULES)
    except ImportError:  # aws-xray-sdk missing from the layer: serve untraced rather than fail
        logger.warning("tracing off: aws-xray-sdk is not installed (aws-lambda-powertools[tracer])")
        return None


class _ContextFields:
    """The four Lambda-context fields the Logger reads, tolerant of partial test contexts."""

    __slots__ = ("function_name", "memory_limit_in_mb", "invoked_function_arn", "aws_request_id")

    def __init__(self, context: Any) -> None:
        self.function_name = getattr(context, "function_name", None) or ""
        self.memory_limit_in_mb = getattr(context, "memory_limit_in_mb", None) or 0
        self.invoked_function_arn = getattr(context, "invoked_function_arn", None) or ""
        self.aws_request_id = getattr(context, "aws_request_id", None) or ""


def _headers(response: Any) -> dict[str, str]:
    if not isinstance(response, dict):
        return {}
    headers = {str(k).lower(): v for k, v in (response.get("headers") or {}).items()}
    for key, values in (response.get("multiValueHeaders") or {}).items():
        if values:
            headers.setdefault(str(key).lower(), values[-1])
    return headers


def note_response(logger: Any, status: Any, headers: dict[str, str]) -> None:
    """Append the mesh request id (when the response names one) and log the metadata-only summary."""
    mesh_id = headers.get(MESH_REQUEST_ID_HEADER)
    if not mesh_id:
        return
    logger.append_keys(**{MESH_REQUEST_ID_KEY: mesh_id})
    summary = {field: headers[h] for h, field in _SUMMARY_HEADERS.items() if h in headers}
    logger.info("invocation done", extra={"status": status, **summary})


def instrument(service: str, *, correlation_id_path: str = API_GATEWAY_REST, stream: IO[str] | None = None,
               route_mesh_logs: bool | None = None) -> Callable[[Handler], Handler]:
    """Decorator factory: Powertools Logger (JSON, correlation id) and Tracer around a Lambda handler."""
    logger = make_logger(service, stream=stream, route_mesh_logs=route_mesh_logs)
    tracer = _make_tracer(service, logger)

    def decorate(handler: Handler) -> Handler:
        inner = tracer.capture_lambda_handler(handler, capture_response=False) if tracer is not None else handler

        # The Logger reads its fields from a view of the context; the handler gets the real one.
        @logger.inject_lambda_context(correlation_id_path=correlation_id_path, log_event=False)
        def logged(event: Any, _fields: _ContextFields, context: Any) -> Any:
            logger.remove_keys([MESH_REQUEST_ID_KEY])  # a warm instance's previous request
            response = inner(event, context)
            if isinstance(response, dict) and "statusCode" in response:
                note_response(logger, response.get("statusCode"), _headers(response))
            return response

        @functools.wraps(handler)
        def wrapped(event: Any, context: Any) -> Any:
            return logged(event, _ContextFields(context), context)

        wrapped.logger = logger  # type: ignore[attr-defined]
        wrapped.tracer = tracer  # type: ignore[attr-defined]
        return wrapped

    return decorate


# ---------------------------------------------------------------- streaming function (LWA + uvicorn)
class CorrelationMiddleware:
    """Pure ASGI: correlation id from the Lambda Web Adapter's ``x-amzn-request-context``
    (API Gateway's request context as JSON), mesh request id from the response headers.
    Lambda runs one request at a time per instance, so per-request logger keys are safe."""

    def __init__(self, app: Any, logger: Any) -> None:
        self.app, self.logger = app, logger

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        self.logger.remove_keys([MESH_REQUEST_ID_KEY])
        self.logger.set_correlation_id(_lwa_request_id(scope.get("headers") or []))

        async def sending(message: dict) -> None:
            if message.get("type") == "http.response.start":
                headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in message.get("headers") or []}
                note_response(self.logger, message.get("status"), headers)
            await send(message)

        await self.app(scope, receive, sending)


def _lwa_request_id(headers: list[tuple[bytes, bytes]]) -> str | None:
    for key, value in headers:
        if key.lower() == b"x-amzn-request-context":
            try:
                return json.loads(value).get("requestId")
            except (ValueError, AttributeError):
                return None
    return None


def build_streaming_app() -> Any:
    """uvicorn factory for the streaming function: the AWS app with Powertools logging."""
    from llm_mesh.aws.lambda_entry import build_aws_app

    logger = make_logger(os.environ.get("POWERTOOLS_SERVICE_NAME") or "llm-mesh")
    app = build_aws_app()
    app.add_middleware(CorrelationMiddleware, logger=logger)
    return app
