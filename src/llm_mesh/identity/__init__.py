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
    """AWS home: API Gateway already verified SigV4; map the principal ARN to an app.

    Roles are matched by account and name: an assumed-role session ARN
    (``arn:aws:sts::123:assumed-role/Name/session``) carries no path, so a configured
    ``role/service-role/Name`` or ``role/aws-reserved/sso.amazonaws.com/Name`` must match it.
    Users and federated users are matched exactly (their ARNs keep any path).
    """

    def __init__(self, config: MeshConfig) -> None:
        self._config = config
        self._apps_by_principal: dict[str, str] = {}
        for name, app in config.apps.items():
            for arn in app.principals:
                self._apps_by_principal.setdefault(canonical_principal(arn), name)

    def authenticate(self, identity: InboundIdentity) -> Caller:
        arn = identity.iam_principal_arn
        if not arn:
            raise AuthenticationFailed("no IAM principal in the request context; sign requests with SigV4")
        app_name = self._apps_by_principal.get(canonical_principal(arn))
        if app_name is None:
            raise PermissionDenied("this IAM principal is not mapped to any app in the mesh config")
        return Caller(app=app_name, principal=arn, admin=self._config.apps[app_name].admin)


def canonical_principal(arn: str) -> str:
    """The form two ARNs of the same principal share.

    ``arn:aws:sts::123:assumed-role/Role/session`` and ``arn:aws:iam::123:role/any/path/Role``
    both become ``arn:aws:iam::123:role/Role``; every other ARN is returned unchanged.
    """
    prefix, sep, rest = arn.partition(":assumed-role/")
    if sep:
        return f"{prefix.replace(':sts:', ':iam:')}:role/{rest.split('/', 1)[0]}"
    prefix, sep, rest = arn.partition(":role/")
    if sep and prefix.split(":")[2:3] == ["iam"]:
        return f"{prefix}:role/{rest.rsplit('/', 1)[-1]}"
    return arn
