"""OpenAI -> Snowflake Cortex Chat Completions: only what differs.

The body is OpenAI's (``translate_openai_openai``), ``developer`` is ``system``.
What differs is the auth: a bearer token with its type in
``X-Snowflake-Authorization-Token-Type``, possibly a key-pair JWT built here
(pure: the signer is passed in).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any, Callable

from llm_mesh.providers.common.messages import system_roles
from llm_mesh.providers.openai import translate_openai_openai as openai_wire
from llm_mesh.providers.snowflake.types import KeyPairClaims
from llm_mesh.wire.openai_chat import ChatCompletionRequest


def account_url(account: str) -> str:
    return f"https://{account.lower()}.snowflakecomputing.com"


def chat_request_body(request: ChatCompletionRequest, *, stream: bool) -> dict[str, Any]:
    body = openai_wire.chat_request_body(request, stream=stream)
    body["messages"] = system_roles(body["messages"])
    return body


def jwt_account(account: str) -> str:
    """The account part of key-pair JWT claims: upper case, without a locator's region."""
    return account.split(".", 1)[0].upper()


def public_key_fingerprint(public_key_der: bytes) -> str:
    return "SHA256:" + base64.b64encode(hashlib.sha256(public_key_der).digest()).decode()


def keypair_claims(account: str, user: str, fingerprint: str, now: int, lifetime: int) -> KeyPairClaims:
    qualified = f"{jwt_account(account)}.{user.upper()}"
    return {"iss": f"{qualified}.{fingerprint}", "sub": qualified, "iat": now, "exp": now + lifetime}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def encode_jwt(claims: KeyPairClaims, sign_rs256: Callable[[bytes], bytes]) -> str:
    header = _b64url(json.dumps({"alg": "RS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode()
    return f"{header}.{payload}.{_b64url(sign_rs256(signing_input))}"
