"""Plumbing shared by the boto3-backed providers (bedrock, sagemaker).

One botocore client and one thread pool per provider, sized from the same
options, and the mapping of whatever a boto3 call raises to a mesh error; each
provider supplies only how its service's ``ClientError`` codes read.
"""

from __future__ import annotations

from typing import Any, Callable

from llm_mesh.errors import MeshError, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from llm_mesh.providers.eventstream import (
    ThreadRunner,
    build_boto3_client,
    is_connection_failure,
    is_timeout,
    is_truncated_body,
)


def boto3_client_and_runner(service: str, name: str, config: Any, options: Any) -> tuple[Any, ThreadRunner]:
    """The provider's botocore client and the thread pool its blocking calls run on.

    ``options`` carries ``region``, ``endpoint_url``, ``read_timeout`` and
    ``max_pool_connections``; the provider config's ``base_url``, timeouts and
    ``max_connections`` stand in where they are unset.
    """
    pool = options.max_pool_connections or config.max_connections
    client = build_boto3_client(
        service,
        region=options.region,
        endpoint_url=options.endpoint_url or config.base_url,
        connect_timeout=config.timeouts.connect,
        read_timeout=options.read_timeout or config.timeouts.read,
        max_pool_connections=pool,
    )
    return client, ThreadRunner(name, max_workers=pool)


def map_boto_exception(
    provider: str,
    exc: BaseException,
    client_error: Callable[[Any], MeshError],
    *,
    streaming: bool = False,
) -> MeshError:
    """Any exception out of a boto3 call or event-stream iteration -> mesh error.

    ``client_error`` reads a botocore ``ClientError`` (the service's error codes);
    timeouts, connection failures, cut bodies and missing credentials or region
    are the same for every AWS service.
    """
    from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError, PartialCredentialsError

    if isinstance(exc, MeshError):
        return exc
    if isinstance(exc, ClientError):
        return client_error(exc)
    if is_timeout(exc):
        return UpstreamTimeout(f"provider {provider} did not answer in time")
    if streaming and is_truncated_body(exc):
        return UpstreamError(f"provider {provider} ended the stream before it completed", code="stream_cut")
    if is_connection_failure(exc) or is_truncated_body(exc):
        return UpstreamUnavailable(f"provider {provider} connection failed ({type(exc).__name__})")
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return UpstreamUnavailable(f"provider {provider} has no AWS credentials", code="upstream_auth_failed")
    if isinstance(exc, NoRegionError):
        return UpstreamUnavailable(f"provider {provider} has no AWS region configured")
    return UpstreamError(f"provider {provider} failed ({type(exc).__name__})")
