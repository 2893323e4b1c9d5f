"""The ``snowflake`` provider: Snowflake Cortex Chat Completions (no warehouse needed)."""

from __future__ import annotations

import time
from typing import Any

from llm_mesh.errors import InvalidRequest, UpstreamError
from llm_mesh.providers.common.http_provider import api_key_client
from llm_mesh.providers.openai_compat import OpenAILikeProvider
from llm_mesh.providers.base import Capabilities, SecretResolver
from llm_mesh.providers.snowflake import translate_openai_snowflake as wire
from llm_mesh.providers.snowflake.capabilities import capabilities_for
from llm_mesh.providers.snowflake.errors import classify
from llm_mesh.providers.snowflake.options import KeyPairAuth, SnowflakeOptions
from llm_mesh.providers.snowflake.types import CHAT_PATH, TOKEN_TYPE_HEADER
from llm_mesh.wire.openai_chat import ChatCompletionRequest

_RENEW_MARGIN = 300


class _KeyPairSigner:
    """Signs and caches key-pair JWTs (RS256) for one Snowflake user."""

    def __init__(self, name: str, account: str, auth: KeyPairAuth, secrets: SecretResolver) -> None:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding

        try:
            key = serialization.load_pem_private_key(secrets.resolve(auth.private_key).encode(), password=None)
        except (ValueError, TypeError):
            raise UpstreamError(f"provider {name}: the Snowflake private key is not a valid PEM key") from None
        der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self._fingerprint = wire.public_key_fingerprint(der)
        self._sign = lambda data: key.sign(data, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr]
        self._account, self._user, self._lifetime = account, auth.user, auth.lifetime_seconds
        self._token: str | None = None
        self._expires = 0

    def token(self) -> str:
        now = int(time.time())
        if self._token is None or now >= self._expires - _RENEW_MARGIN:
            claims = wire.keypair_claims(self._account, self._user, self._fingerprint, now, self._lifetime)
            self._token, self._expires = wire.encode_jwt(claims, self._sign), claims["exp"]
        return self._token


class SnowflakeProvider(OpenAILikeProvider):
    offers_embeddings = False
    kind = "snowflake"

    def __init__(self, name: str, config: Any, secrets: SecretResolver) -> None:
        options = SnowflakeOptions.model_validate(config.options)
        self._options = options
        default_url = wire.account_url(options.account) if options.account else None
        self._signer: _KeyPairSigner | None = None
        if options.keypair is not None:
            if not options.account:
                raise InvalidRequest(f"provider {name}: key-pair auth needs options.account")
            self._signer = _KeyPairSigner(name, options.account, options.keypair, secrets)
            config = config.model_copy(update={"api_key": None})
        token_type = "KEYPAIR_JWT" if self._signer is not None else options.token_type
        client = api_key_client(name, config, secrets, default_url, extra_headers={TOKEN_TYPE_HEADER: token_type})
        super().__init__(name, client, classify)

    def capabilities(self, model: str) -> Capabilities:
        return capabilities_for(model, self._options.context_window)

    def chat_path(self, model: str) -> str:
        return CHAT_PATH

    async def request_headers(self) -> dict[str, str] | None:
        if self._signer is None:
            return None
        return {"Authorization": f"Bearer {self._signer.token()}"}

    def chat_body(self, request: ChatCompletionRequest, *, stream: bool) -> dict[str, Any]:
        return wire.chat_request_body(request, stream=stream)
