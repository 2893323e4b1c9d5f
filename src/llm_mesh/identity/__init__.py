"""Who is calling: local Bearer API keys, or the IAM principal API Gateway verified."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Protocol

from llm_mesh.config.schema import MeshConfig
from llm_mesh.errors import AuthenticationFailed, PermissionDenied
from llm_mesh.stores.interfaces import ApiKeyRecord, ApiKeyStore

KEY_PREFIX = "mesh-"


@dataclass(frozen=True)
class Caller:
    app: str
    principal: str  # key id locally, IAM ARN on AWS
    admin: bool = False


@dataclass(frozen=True)
class InboundIdentity:
    """What the HTTP adapter extracted from the request; nothing else is trusted."""

    authorization: str | None = None  # the Authorization header, locally
    iam_principal_arn: str | None = None  # from API Gateway's request context, never a client header


class Authenticator(Protocol):
    def authenticate(self, identity: InboundIdentity) -> Caller: ...


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key(app: str, store: ApiKeyStore) -> tuple[str, ApiKeyRecord]:
    """Create a key for ``app``; the secret is returned once and only its hash stored."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    record = ApiKeyRecord(
        key_id=f"key_{uuid.uuid4().hex[:16]}",
        app=app,
        key_hash=hash_key(secret),
        prefix=secret[: len(KEY_PREFIX) + 6],
        created_at=time.time(),
    )
    store.put_key(record)
    return secret, record


class ApiKeyAuthenticator:
    """Local home: ``Authorization: Bearer mesh-...`` checked against stored hashes."""

    def __init__(self, config: MeshConfig, store: ApiKeyStore) -> None:
        self._config = config
        self._store = store

    def authenticate(self, identity: InboundIdentity) -> Caller:
        header = identity.authorization
        if not header:
            raise AuthenticationFailed("missing credentials: send 'Authorization: Bearer <mesh API key>'")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthenticationFailed("the Authorization header must be 'Bearer <mesh API key>'")
        record = self._store.get_by_hash(hash_key(token))
        if record is None or not record.active:
            raise AuthenticationFailed("invalid or revoked API key")
        app = self._config.apps.get(record.app)
        if app is None:
            raise PermissionDenied(f"the key's app {record.app!r} is not declared in the config")
        return Caller(app=record.app, principal=record.key_id, admin=app.admin)


class IamPrincipalAuthenticator:
    """AWS home: API Gateway already verified SigV4; map the principal ARN to an app."""

    def __init__(self, config: MeshConfig) -> None:
        self._config = config

    def authenticate(self, identity: InboundIdentity) -> Caller:
        arn = identity.iam_principal_arn
        if not arn:
            raise AuthenticationFailed("no IAM principal in the request context; sign requests with SigV4")
        app_name = self._config.app_for_principal(arn) or self._config.app_for_principal(_role_arn(arn))
        if app_name is None:
            raise PermissionDenied("this IAM principal is not mapped to any app in the mesh config")
        return Caller(app=app_name, principal=arn, admin=self._config.apps[app_name].admin)


def _role_arn(arn: str) -> str:
    """arn:aws:sts::123:assumed-role/Role/session -> arn:aws:iam::123:role/Role."""
    if ":assumed-role/" not in arn:
        return arn
    prefix, _, rest = arn.partition(":assumed-role/")
    partition_account = prefix.replace(":sts:", ":iam:")
    role = rest.split("/", 1)[0]
    return f"{partition_account}:role/{role}"
