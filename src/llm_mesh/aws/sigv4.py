"""Sign httpx requests with AWS SigV4 so apps can call the IAM-protected mesh.

    import openai
    from llm_mesh.aws.sigv4 import iam_http_client

    client = openai.OpenAI(
        base_url="https://abc123.execute-api.eu-west-1.amazonaws.com/prod/v1",
        api_key="unused",                       # the SDK insists on one; it is dropped
        http_client=iam_http_client("eu-west-1"),
    )

Credentials come from the standard botocore chain (environment, profile, SSO,
instance or task role) unless given. Each request is signed with botocore's own
``SigV4Auth`` over the method, path, query, the body's SHA-256 and a small set of
stable headers (host, content-type, x-amz-*): headers that proxies or transports may
rewrite are left unsigned on purpose. Responses, streamed ones included, are not
touched. Any ``Authorization`` header already on the request (the openai SDK sends
``Bearer <api_key>``) is removed first; SigV4 supplies its own.
"""

from __future__ import annotations

from typing import Any, Generator

import httpx
from botocore.auth import SigV4Auth as _BotocoreSigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, ReadOnlyCredentials

_SIGNED_HEADER_NAMES = ("content-type",)


class SigV4Auth(httpx.Auth):
    """httpx auth that signs every request for ``service`` (``execute-api``) in ``region``."""

    requires_request_body = True  # httpx reads (streamed) bodies before auth_flow, so the hash is exact

    def __init__(
        self,
        region: str,
        service: str = "execute-api",
        credentials: Credentials | ReadOnlyCredentials | None = None,
        session: Any = None,
    ) -> None:
        if not region:
            raise ValueError("region is required for SigV4 signing")
        self.region = region
        self.service = service
        self._credentials = credentials
        self._session = session

    def _frozen_credentials(self) -> ReadOnlyCredentials:
        creds = self._credentials
        if creds is None:
            if self._session is None:
                import botocore.session

                self._session = botocore.session.get_session()
            # boto3.Session and botocore Session both expose get_credentials()
            creds = self._session.get_credentials()
            if creds is None:
                raise RuntimeError("no AWS credentials found for SigV4 signing")
        if isinstance(creds, ReadOnlyCredentials):
            return creds
        return creds.get_frozen_credentials()  # refreshes temporary credentials when due

    def sign(self, request: httpx.Request) -> None:
        """Sign ``request`` in place (its body must already be read)."""
        request.headers.pop("authorization", None)
        if "transfer-encoding" in request.headers:
            # The (streamed) body was read in full to hash it: send it with a length.
            del request.headers["transfer-encoding"]
            request.headers["content-length"] = str(len(request.content))
        headers = {"host": request.url.netloc.decode("ascii")}
        for name, value in request.headers.items():
            lname = name.lower()
            if lname in _SIGNED_HEADER_NAMES or (lname.startswith("x-amz-") and lname != "x-amz-date"):
                headers[lname] = value
        aws_request = AWSRequest(
            method=request.method,
            url=str(request.url),
            data=request.content,
            headers=headers,
        )
        creds = self._frozen_credentials()
        _BotocoreSigV4Auth(creds, self.service, self.region).add_auth(aws_request)
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
            value = aws_request.headers.get(name)
            if value is not None:
                request.headers[name] = value

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.sign(request)
        yield request


def iam_http_client(
    region: str,
    service: str = "execute-api",
    credentials: Credentials | ReadOnlyCredentials | None = None,
    session: Any = None,
    **kwargs: Any,
) -> httpx.Client:
    """An ``httpx.Client`` that SigV4-signs every request; ``kwargs`` go to httpx.Client."""
    kwargs.setdefault("timeout", httpx.Timeout(600.0, connect=10.0))
    return httpx.Client(auth=SigV4Auth(region, service, credentials, session), **kwargs)


def iam_async_http_client(
    region: str,
    service: str = "execute-api",
    credentials: Credentials | ReadOnlyCredentials | None = None,
    session: Any = None,
    **kwargs: Any,
) -> httpx.AsyncClient:
    """The async variant, for ``openai.AsyncOpenAI(http_client=...)``."""
    kwargs.setdefault("timeout", httpx.Timeout(600.0, connect=10.0))
    return httpx.AsyncClient(auth=SigV4Auth(region, service, credentials, session), **kwargs)
