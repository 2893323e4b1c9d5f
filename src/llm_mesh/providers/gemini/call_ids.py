"""OpenAI tool-call ids <-> Gemini function-call ids and thought signatures.

Gemini may return a ``functionCall.id``; when it does not, ids ``call_<tag>_<n>``
are synthesised, stable for the whole response (stream or not). A
``thoughtSignature`` on a function-call part (thinking models; Gemini 3 rejects a
follow-up turn without it) travels inside the OpenAI tool-call id after
``__ts__`` so the client's echo of the id brings it back unchanged.
"""

from __future__ import annotations

import hashlib
import re
import uuid

SIGNATURE_SEPARATOR = "__ts__"
SYNTHETIC_ID = re.compile(r"^call_[0-9a-f]{12}_\d+$")


def encode_call_id(call_id: str, signature: str | None) -> str:
    return f"{call_id}{SIGNATURE_SEPARATOR}{signature}" if signature else call_id


def decode_call_id(value: str) -> tuple[str, str | None]:
    call_id, sep, signature = value.partition(SIGNATURE_SEPARATOR)
    return call_id, (signature or None) if sep else None


def synthetic_id(tag: str, n: int) -> str:
    return f"call_{tag}_{n}"


def id_tag(seed: str | None) -> str:
    return hashlib.sha256((seed or uuid.uuid4().hex).encode()).hexdigest()[:12]
