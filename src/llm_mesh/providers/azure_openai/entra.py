"""Microsoft Entra ID client-credentials tokens for Azure OpenAI, cached until near expiry."""

from __future__ import annotations

import asyncio
import time
from typing import Callable

import httpx

from llm_mesh.errors import UpstreamError
from llm_mesh.providers.http_base import transport_error

_REFRESH_MARGIN = 300.0  # seconds before expiry a token is renewed


class EntraTokenProvider:
    def __init__(
        self,
        provider: str,
        client: httpx.AsyncClient,
        authority_host: str,
        tenant_id: str,
        client_id: str,
        client_secret: Callable[[], str],
        scope: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._provider = provider
        self._client = client
        self._url = f"{authority_host.rstrip('/')}/{tenant_id}/oauth2/v2.0/token"
        self._client_id = client_id
        self._client_secret = client_secret
        self._scope = scope
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        if self._token is not None and self._clock() < self._expires_at - _REFRESH_MARGIN:
            return self._token
        async with self._lock:
            if self._token is not None and self._clock() < self._expires_at - _REFRESH_MARGIN:
                return self._token
            return await self._fetch()

    async def _fetch(self) -> str:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self._client_secret(),
            "scope": self._scope,
        }
        try:
            response = await self._client.post(self._url, data=form)
        except httpx.HTTPError as exc:
            raise transport_error(self._provider, exc) from None
        if response.status_code != 200:
            # The body's error_description may echo request details; report only the code.
            code = None
            try:
                code = response.json().get("error")
            except (ValueError, AttributeError):
                pass
            raise UpstreamError(
                f"provider {self._provider} could not obtain an Entra ID token"
                + (f" ({code})" if isinstance(code, str) else f" (status {response.status_code})"),
                code="upstream_auth_failed",
            )
        try:
            data = response.json()
            token = data["access_token"]
            expires_in = float(data.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            raise UpstreamError(f"provider {self._provider} got a malformed Entra ID token response") from None
        if not isinstance(token, str) or not token:
            raise UpstreamError(f"provider {self._provider} got a malformed Entra ID token response")
        self._token = token
        self._expires_at = self._clock() + expires_in
        return token
