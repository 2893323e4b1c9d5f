"""Credential resolution for the local home: environment variables only.

The AWS home resolves ``secret`` references through Secrets Manager
(``llm_mesh.aws.secrets``). Values are never logged or echoed in errors.
"""

from __future__ import annotations

import os
from typing import Mapping

from llm_mesh.errors import UpstreamUnavailable
from llm_mesh.providers.base import SecretRefLike


class MissingSecret(UpstreamUnavailable):
    pass


class EnvSecretResolver:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = environ if environ is not None else os.environ

    def resolve(self, ref: SecretRefLike) -> str:
        if ref.env is None:
            raise MissingSecret("this provider's credential is a Secrets Manager secret, unavailable locally")
        value = self._environ.get(ref.env)
        if not value:
            raise MissingSecret(f"the provider's credential (environment variable {ref.env}) is not set")
        return value

    def available(self, ref: SecretRefLike) -> bool:
        return ref.env is not None and bool(self._environ.get(ref.env))
