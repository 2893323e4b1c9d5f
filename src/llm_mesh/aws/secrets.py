"""Credential resolution for the AWS home: env references and Secrets Manager secrets.

``secret`` references go through Powertools Parameters, which caches each value in
memory for ``max_age`` seconds so a warm Lambda does not call Secrets Manager on
every request, and rotation is picked up within that window. Values are never
logged, and error messages name the reference, never the value.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Mapping

from llm_mesh.providers.base import SecretRefLike
from llm_mesh.secrets import MissingSecret

DEFAULT_MAX_AGE_S = 300


def _powertools_get_secret(name: str, *, transform: str | None, max_age: int) -> Any:
    from aws_lambda_powertools.utilities import parameters

    return parameters.get_secret(name, transform=transform, max_age=max_age)


class _SessionSecrets:
    """Powertools' ``SecretsProvider`` on a given boto3 session (its client is created on the
    first read), with the same per-``(name, transform)`` ``max_age`` cache as ``get_secret``."""

    def __init__(self, session: Any) -> None:
        self._session, self._provider = session, None

    def __call__(self, name: str, *, transform: str | None, max_age: int) -> Any:
        if self._provider is None:
            from aws_lambda_powertools.utilities.parameters import SecretsProvider

            self._provider = SecretsProvider(boto3_session=self._session)
        return self._provider.get(name, transform=transform, max_age=max_age)


class SecretsManagerResolver:
    """``env`` refs from the environment, ``secret`` refs from Secrets Manager.

    ``field`` picks one key of a JSON secret (``{"api_key": "..."}``).
    ``fetch`` is injectable for tests; it defaults to Powertools' ``get_secret``, or to a
    Powertools provider on ``session`` (a boto3 session shared with the other clients, so the
    SDK's endpoint data and models are loaded once: ``llm_mesh.aws.clients.default_session``).
    """

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        max_age: int = DEFAULT_MAX_AGE_S,
        fetch: Callable[..., Any] | None = None,
        session: Any = None,
    ) -> None:
        self._environ = environ if environ is not None else os.environ
        self._max_age = max_age
        self._fetch = fetch or (_SessionSecrets(session) if session is not None else _powertools_get_secret)

    def resolve(self, ref: SecretRefLike) -> str:
        if ref.env is not None:
            value = self._environ.get(ref.env)
            if not value:
                raise MissingSecret(f"the provider's credential (environment variable {ref.env}) is not set")
            return value
        if ref.secret is None:
            raise MissingSecret("the provider's credential reference names neither env nor secret")
        name = ref.secret
        try:
            raw = self._fetch(name, transform=None, max_age=self._max_age)
        except Exception as exc:  # the SDK error names the secret, never its value
            raise MissingSecret(
                f"cannot read Secrets Manager secret {name!r} ({type(exc).__name__})"
            ) from None
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8")
        if not isinstance(raw, str) or not raw:
            raise MissingSecret(f"Secrets Manager secret {name!r} has no string value")
        if ref.field is None:
            return raw
        try:
            data = json.loads(raw)
        except ValueError:
            raise MissingSecret(f"Secrets Manager secret {name!r} is not JSON, so field {ref.field!r} cannot be read") from None
        value = data.get(ref.field) if isinstance(data, dict) else None
        if not isinstance(value, str) or not value:
            raise MissingSecret(f"Secrets Manager secret {name!r} has no string field {ref.field!r}")
        return value

    def available(self, ref: SecretRefLike) -> bool:
        """Cheap check without a network call: secrets are assumed present until resolved."""
        if ref.env is not None:
            return bool(self._environ.get(ref.env))
        return ref.secret is not None
