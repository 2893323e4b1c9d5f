"""Extract the caller's identity from an HTTP request, per home.

On AWS the IAM principal comes only from API Gateway's verified request context:
the Lambda event (mangum) or the header the Lambda Web Adapter sets from it.
Locally that header is ignored, so no client can claim an IAM identity.
"""

from __future__ import annotations

import json

from starlette.requests import Request

from llm_mesh.identity import InboundIdentity


def inbound_identity(request: Request, home: str, allow_x_api_key: bool = False) -> InboundIdentity:
    if home == "aws":
        return InboundIdentity(iam_principal_arn=_principal_from_context(request))
    authorization = request.headers.get("authorization")
    if authorization is None and allow_x_api_key:
        api_key = request.headers.get("x-api-key")
        if api_key:
            authorization = f"Bearer {api_key}"
    return InboundIdentity(authorization=authorization)


def _principal_from_context(request: Request) -> str | None:
    event = request.scope.get("aws.event")
    context = None
    if isinstance(event, dict):
        context = event.get("requestContext")
    else:
        raw = request.headers.get("x-amzn-request-context")
        if raw:
            try:
                context = json.loads(raw)
            except ValueError:
                context = None
    if not isinstance(context, dict):
        return None
    identity = context.get("identity") or {}
    arn = identity.get("userArn") if isinstance(identity, dict) else None
    return arn if isinstance(arn, str) and arn else None
