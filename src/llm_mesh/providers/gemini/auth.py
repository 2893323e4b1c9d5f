"""Vertex AI credentials: an OAuth2 access token minted from a service account.

google-auth signs the JWT assertion and exchanges it at the account's
``token_uri``; that call is blocking, so it runs in a worker thread. The token is
cached until shortly before it expires and one refresh serves every concurrent
request waiting for it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

from llm_mesh.errors import UpstreamError

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
_REFRESH_MARGIN = dt.timedelta(minutes=5)


class ServiceAccountTokenSource:
    def __init__(self, provider: str, service_account_json: str) -> None:
        from google.oauth2 import service_account  # imported lazily: only Vertex needs google-auth

        self._provider = provider
        try:
            info = json.loads(service_account_json)
        except ValueError:
            raise UpstreamError(
                f"provider {provider}: the credential is not a service-account JSON document",
                code="upstream_auth_failed",
            ) from None
        if not isinstance(info, dict):
            raise UpstreamError(f"provider {provider}: the credential is not a service-account JSON document",
                                code="upstream_auth_failed")
        try:
            self._credentials = service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
        except (ValueError, KeyError):
            raise UpstreamError(
                f"provider {provider}: the service-account JSON is incomplete or its key is invalid",
                code="upstream_auth_failed",
            ) from None
        self.project_id: str | None = info.get("project_id")
        self._lock = asyncio.Lock()
        self.refreshes = 0

    def _valid(self) -> bool:
        token = self._credentials.token
        expiry = self._credentials.expiry  # naive UTC
        if not token:
            return False
        if expiry is None:
            return True
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        return expiry - _REFRESH_MARGIN > now

    def _refresh(self) -> None:
        import google.auth.exceptions
        import google.auth.transport.requests

        try:
            self._credentials.refresh(google.auth.transport.requests.Request())
        except google.auth.exceptions.GoogleAuthError as exc:
            # The exception text can echo the token endpoint's body: keep it out of the message.
            raise UpstreamError(
                f"provider {self._provider} could not obtain an access token ({type(exc).__name__})",
                code="upstream_auth_failed",
            ) from None

    async def token(self) -> str:
        if self._valid():
            return self._credentials.token  # type: ignore[no-any-return]
        async with self._lock:
            if not self._valid():
                await asyncio.to_thread(self._refresh)
                self.refreshes += 1
            return self._credentials.token  # type: ignore[no-any-return]

    def invalidate(self) -> None:
        self._credentials.token = None

    @property
    def credentials(self) -> Any:
        return self._credentials
