"""Audit payload encryption with AWS KMS (envelope encryption).

KMS ``Encrypt`` takes at most 4 KB, so payloads are encrypted locally with a data
key from ``GenerateDataKey`` (AES-256, used as a Fernet key) and the data key is
stored encrypted beside them: ``kms1:<b64 encrypted data key>:<fernet token>``.
A data key is reused for ``reuse_seconds`` (and at most ``max_uses`` payloads) to
keep KMS off the request path, as the AWS Encryption SDK's key cache does.
boto3 is imported here only.
"""

from __future__ import annotations

import base64
import threading
import time
from typing import Any

from cryptography.fernet import Fernet

PREFIX = "kms1:"


class KmsPayloadCipher:
    def __init__(self, key_id: str, client: Any = None, reuse_seconds: float = 300.0, max_uses: int = 10_000) -> None:
        if client is None:
            import boto3

            client = boto3.client("kms")
        self.key_id = key_id
        self._client = client
        self._reuse = reuse_seconds
        self._max_uses = max_uses
        self._lock = threading.Lock()
        self._current: tuple[Fernet, str, float, int] | None = None

    def _data_key(self) -> tuple[Fernet, str]:
        with self._lock:
            now = time.monotonic()
            cur = self._current
            if cur is None or now - cur[2] > self._reuse or cur[3] >= self._max_uses:
                out = self._client.generate_data_key(KeyId=self.key_id, KeySpec="AES_256")
                fernet = Fernet(base64.urlsafe_b64encode(out["Plaintext"]))
                cur = (fernet, base64.b64encode(out["CiphertextBlob"]).decode(), now, 0)
            self._current = (cur[0], cur[1], cur[2], cur[3] + 1)
            return cur[0], cur[1]

    def encrypt(self, plaintext: bytes) -> str:
        fernet, wrapped = self._data_key()
        return f"{PREFIX}{wrapped}:{fernet.encrypt(plaintext).decode()}"

    def decrypt(self, token: str) -> bytes:
        if not token.startswith(PREFIX):
            raise ValueError("not a KMS-encrypted payload")
        wrapped, _, body = token[len(PREFIX):].partition(":")
        key = self._client.decrypt(CiphertextBlob=base64.b64decode(wrapped), KeyId=self.key_id)["Plaintext"]
        return Fernet(base64.urlsafe_b64encode(key)).decrypt(body.encode())
