"""The secret that keys the audit chain (HMAC-SHA256), and where writers get it.

A keyed record's ``hash`` is ``hmac-sha256:<key id>:<hex>``; the key id is a short
fingerprint of the key (sha256 of it, 12 hex), so verification picks the right key
after a rotation and never needs the key in the record. Without the key nobody can
re-seal a rewritten record: a plain sha256 over the fields no longer passes.

Where the key comes from (first that applies):
- ``MESH_AUDIT_KEY`` — the key itself (hex or base64, at least 32 bytes), e.g. from a secret store;
- ``MESH_AUDIT_KEY_SECRET`` — a Secrets Manager secret id/ARN whose value is the key (the AWS home;
  the CDK stack creates one with a generated value and grants the functions GetSecretValue);
- locally, ``audit-chain.key`` in the data directory, generated (0600) on first use.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

KEYED_PREFIX = "hmac-sha256:"
KEY_FILE_NAME = "audit-chain.key"
KEY_ENV = "MESH_AUDIT_KEY"
KEY_SECRET_ENV = "MESH_AUDIT_KEY_SECRET"
MIN_KEY_BYTES = 32


@dataclass(frozen=True)
class ChainKey:
    secret: bytes = field(repr=False)
    key_id: str = ""

    def __post_init__(self) -> None:
        if len(self.secret) < MIN_KEY_BYTES:
            raise ValueError(f"the audit chain key must be at least {MIN_KEY_BYTES} bytes")
        if not self.key_id:
            object.__setattr__(self, "key_id", hashlib.sha256(self.secret).hexdigest()[:12])

    def seal(self, data: bytes) -> str:
        """The keyed hash string stored in a record."""
        digest = hmac.new(self.secret, data, hashlib.sha256).hexdigest()
        return f"{KEYED_PREFIX}{self.key_id}:{digest}"


class ChainKeyring:
    """The keys a verifier holds, by key id (the current one plus any rotated-out ones)."""

    def __init__(self, keys: Iterable[ChainKey] = ()) -> None:
        self._keys = {key.key_id: key for key in keys}

    def __bool__(self) -> bool:
        return bool(self._keys)

    def get(self, key_id: str) -> ChainKey | None:
        return self._keys.get(key_id)


def is_keyed(stored_hash: str) -> bool:
    return stored_hash.startswith(KEYED_PREFIX)


def key_id_of(stored_hash: str) -> str:
    return stored_hash[len(KEYED_PREFIX):].partition(":")[0]


def parse_key(text: str) -> ChainKey:
    """A key written as hex or (urlsafe) base64; the value is never echoed in errors."""
    value = text.strip()
    raw: bytes | None = None
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        try:
            raw = base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_", validate=True)
        except (binascii.Error, ValueError):
            raw = None
    if raw is None or len(raw) < MIN_KEY_BYTES:
        raise ValueError(f"the audit chain key must be hex or base64 of at least {MIN_KEY_BYTES} bytes")
    return ChainKey(raw)


def load_or_create_key_file(directory: str | Path) -> ChainKey:
    """The local key: ``<directory>/audit-chain.key``, created with 0600 if absent. The key is
    written to a private temporary file and then hard-linked into place, which is atomic and
    fails if the name exists: concurrent first writers agree on one key, and no reader ever
    sees the file before its line is in it."""
    path = Path(directory) / KEY_FILE_NAME
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{KEY_FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(draft, path)
            except FileExistsError:
                pass  # another writer's key is in place: use it
        finally:
            draft.unlink(missing_ok=True)
    text = path.read_text().strip()
    if not text:
        raise ValueError(f"audit chain key file {path} is empty")
    return parse_key(text)


def _secret_value(secret_id: str, client: Any = None) -> str:
    if client is None:
        from llm_mesh.aws.clients import aws_client

        client = aws_client("secretsmanager")
    return client.get_secret_value(SecretId=secret_id)["SecretString"]


def key_from_environment(environ: Mapping[str, str] | None = None, secrets_client: Any = None) -> ChainKey | None:
    env = os.environ if environ is None else environ
    if env.get(KEY_ENV):
        return parse_key(env[KEY_ENV])
    if env.get(KEY_SECRET_ENV):
        return parse_key(_secret_value(env[KEY_SECRET_ENV], secrets_client))
    return None


def resolve_key(data_dir: str | Path | None = None, environ: Mapping[str, str] | None = None) -> ChainKey | None:
    """The writers' key: from the environment, else (locally) the data directory's key file."""
    key = key_from_environment(environ)
    if key is None and data_dir is not None:
        key = load_or_create_key_file(data_dir)
    return key
